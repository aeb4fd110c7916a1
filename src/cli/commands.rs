//! The administrative subcommands, run against an open service: `execute` picks the function.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use super::args::{ApiKeyCommand, AssetCommand, Command, CreateAsset, IdpCommand, UserCommand};
use crate::domain::asset::AccessRule;
use crate::domain::delivery::{Delivery, DeliveryMode, FormPostDelivery, RedirectDelivery};
use crate::domain::identity::{ProviderInput, Provisioning};
use crate::error::AppError;
use crate::ids::AssetId;
use crate::secret::SecretString;
use crate::service::{
    ApiKeyInput, AssetInput, ExportSealing, KeyInput, NextKeyInput, Service, UserInput, UserUpdate,
};

const CLI_ACTOR: &str = "cli";

/// A template file's text (`-` reads standard input).
fn read_template(file: &std::path::Path) -> Result<String, AppError> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| AppError::invalid("template", e.to_string()))?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| {
            AppError::invalid("template", format!("cannot read {}: {e}", file.display()))
        })
    }
}

fn stdin_line(what: &str) -> Result<SecretString, AppError> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| {
        AppError::Unexpected(format!("cannot read the {what} from standard input: {e}"))
    })?;
    let line = s.lines().next().unwrap_or_default().to_owned();
    Ok(SecretString::new(line))
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), AppError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| AppError::Unexpected(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn asset_id(service: &Service, id_or_path: &str) -> Result<AssetId, AppError> {
    Ok(service.find_asset(id_or_path)?.id)
}

/// Run an administrative command.
pub(super) fn execute(service: &Arc<Service>, cmd: Command) -> Result<(), AppError> {
    match cmd {
        Command::Serve => unreachable!("handled by run"),
        Command::User(cmd) => user(service, cmd),
        Command::Apikey(cmd) => apikey(service, cmd),
        Command::Asset(cmd) => asset(service, cmd),
        Command::Idp(cmd) => idp(service, cmd),
        Command::Check => check(service),
        Command::Export {
            output,
            passphrase_stdin,
            secrets_in_clear,
        } => export(service, output, passphrase_stdin, secrets_in_clear),
        Command::Import {
            file,
            passphrase_stdin,
        } => import(service, &file, passphrase_stdin),
        Command::Rekey { .. } => unreachable!("rekey runs on the store, not the service"),
    }
}

/// `check`: the store opened, so every acknowledged write is there; say what it holds.
fn check(service: &Service) -> Result<(), AppError> {
    let (users, assets) = (service.users()?.len(), service.assets()?.len());
    println!("store OK: every acknowledged write is present; {users} users, {assets} assets");
    Ok(())
}

/// `export`: the dump to a new private file, or to standard output.
fn export(
    service: &Service,
    output: Option<PathBuf>,
    passphrase_stdin: bool,
    secrets_in_clear: bool,
) -> Result<(), AppError> {
    let sealing = if passphrase_stdin {
        ExportSealing::Passphrase(stdin_line("passphrase")?)
    } else if secrets_in_clear {
        ExportSealing::InTheClear
    } else {
        ExportSealing::MasterKey
    };
    let dump = service.export(CLI_ACTOR, sealing)?.to_json()?;
    let written = match &output {
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .and_then(|mut f| {
                    std::io::Write::write_all(&mut f, &dump)?;
                    f.sync_all()
                })
        }
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &dump),
    };
    written.map_err(|e| {
        AppError::Unexpected(format!(
            "cannot write the dump to {}: {e}",
            output
                .as_ref()
                .map_or("standard output".into(), |p| p.display().to_string())
        ))
    })?;
    if let Some(path) = output {
        eprintln!("exported the store to {}", path.display());
    }
    Ok(())
}

/// `import`: a dump into the (empty) store.
fn import(
    service: &Service,
    file: &std::path::Path,
    passphrase_stdin: bool,
) -> Result<(), AppError> {
    let text = std::fs::read(file).map_err(|e| {
        AppError::Unexpected(format!("cannot read the dump {}: {e}", file.display()))
    })?;
    let passphrase = passphrase_stdin
        .then(|| stdin_line("passphrase"))
        .transpose()?;
    print_json(&service.import(&text, passphrase.as_ref())?)
}

/// `user …`
fn user(service: &Service, cmd: UserCommand) -> Result<(), AppError> {
    match cmd {
        UserCommand::Add {
            name,
            admin,
            attrs,
            groups,
            password_stdin,
        } => user_add(service, name, admin, &attrs, groups, password_stdin),
        UserCommand::Passwd { name } => user_passwd(service, &name),
        UserCommand::List => user_list(service),
        UserCommand::Disable { name } => print_json(&service.set_disabled(CLI_ACTOR, &name, true)?),
        UserCommand::Enable { name } => print_json(&service.set_disabled(CLI_ACTOR, &name, false)?),
        UserCommand::Update {
            name,
            admin,
            attrs,
            groups,
            no_groups,
        } => {
            let update = UserUpdate {
                attributes: (!attrs.is_empty())
                    .then(|| parse_attributes(&attrs))
                    .transpose()?,
                groups: (no_groups || !groups.is_empty()).then_some(groups),
                admin,
                version: None,
            };
            print_json(&service.update_user(CLI_ACTOR, &name, update)?)
        }
        UserCommand::Delete { name } => {
            service.delete_user(CLI_ACTOR, &name, None)?;
            println!("deleted {name}");
            Ok(())
        }
        UserCommand::Sessions { name } => print_json(&service.sessions_of(&name)?),
        UserCommand::EndSessions { name } => {
            let ended = service.end_sessions(CLI_ACTOR, &name)?;
            println!("ended {ended} sessions");
            Ok(())
        }
        UserCommand::Link {
            name,
            provider,
            subject,
            unlink: _,
        } => {
            service.link_user(CLI_ACTOR, &name, provider.as_deref(), subject.as_deref())?;
            print_json(&service.user(&name)?)
        }
    }
}

/// `idp …`
fn idp(service: &Service, cmd: IdpCommand) -> Result<(), AppError> {
    match cmd {
        IdpCommand::Add {
            id,
            issuer,
            client_id,
            name,
            scopes,
            username_claim,
            groups_claim,
            groups_allowed,
            groups_prefix,
            provisioning,
            end_upstream_session,
        } => {
            let client_secret = stdin_line("client secret")?;
            let input = ProviderInput {
                id,
                name,
                issuer,
                client_id,
                client_secret: Some(client_secret),
                scopes: (!scopes.is_empty()).then_some(scopes),
                username_claim,
                groups_claim,
                groups_allowed: Some(groups_allowed),
                groups_prefix,
                provisioning: match provisioning.as_deref() {
                    Some("existing") => Some(Provisioning::Existing),
                    Some(_) => Some(Provisioning::Create),
                    None => None,
                },
                end_upstream_session: Some(end_upstream_session),
            };
            print_json(&service.add_identity_provider(CLI_ACTOR, input)?)
        }
        IdpCommand::List => print_json(&service.sign_in_policy()?),
        IdpCommand::Remove { id } => service.remove_identity_provider(CLI_ACTOR, &id),
        IdpCommand::Policy {
            upstream_only,
            break_glass,
        } => print_json(&service.set_sign_in_policy(CLI_ACTOR, upstream_only, break_glass)?),
    }
}

/// `apikey …`
fn apikey(service: &Service, cmd: ApiKeyCommand) -> Result<(), AppError> {
    match cmd {
        ApiKeyCommand::Create {
            user,
            scopes,
            expires_at,
        } => apikey_create(
            service,
            &user,
            ApiKeyInput {
                scopes: (!scopes.is_empty()).then_some(scopes),
                expires_at,
                within: None,
            },
        ),
        ApiKeyCommand::Revoke { user, key } => {
            print_json(&service.revoke_api_key(CLI_ACTOR, &user, &key)?)
        }
        ApiKeyCommand::List { user } => apikey_list(service, &user),
    }
}

/// `asset …`
fn asset(service: &Service, cmd: AssetCommand) -> Result<(), AppError> {
    match cmd {
        AssetCommand::Create(args) => {
            print_json(&service.create_asset(CLI_ACTOR, asset_input(*args)?)?)
        }
        AssetCommand::List => asset_list(service),
        AssetCommand::Show { asset } => print_json(&service.find_asset(&asset)?),
        AssetCommand::Trash { asset } => {
            print_json(&service.trash_asset(CLI_ACTOR, &asset_id(service, &asset)?)?)
        }
        AssetCommand::Restore { asset } => {
            print_json(&service.restore_asset(CLI_ACTOR, &asset_id(service, &asset)?)?)
        }
        AssetCommand::Purge { asset } => asset_purge(service, &asset),
        AssetCommand::EmptyTrash => {
            let purged = service.empty_trash(CLI_ACTOR)?;
            println!("purged {purged} assets");
            Ok(())
        }
        AssetCommand::Rotate { asset } => {
            print_json(&service.rotate_key(CLI_ACTOR, &asset_id(service, &asset)?)?)
        }
        AssetCommand::NextKey {
            asset,
            key_type,
            key_file,
            switch_at,
        } => {
            let input = NextKeyInput {
                key: key_input(key_type, key_file)?,
                switch_at,
            };
            print_json(&service.prepare_next_key(CLI_ACTOR, &asset_id(service, &asset)?, input)?)
        }
        AssetCommand::ActivateNextKey { asset } => {
            print_json(&service.activate_next_key(CLI_ACTOR, &asset_id(service, &asset)?)?)
        }
        AssetCommand::WithdrawNextKey { asset } => {
            print_json(&service.withdraw_next_key(CLI_ACTOR, &asset_id(service, &asset)?)?)
        }
        AssetCommand::Preview { asset, as_user } => {
            print_json(&service.preview(CLI_ACTOR, &asset_id(service, &asset)?, &as_user)?)
        }
    }
}

/// `user add`: prints the new user as JSON.
fn user_add(
    service: &Service,
    name: String,
    admin: bool,
    attrs: &[String],
    groups: Vec<String>,
    password_stdin: bool,
) -> Result<(), AppError> {
    let attributes = parse_attributes(attrs)?;
    let password = if password_stdin {
        Some(stdin_line("password")?)
    } else {
        None
    };
    let user = service.create_user(
        CLI_ACTOR,
        UserInput {
            username: name,
            password,
            admin,
            attributes,
            groups,
        },
    )?;
    print_json(&user)
}

/// `user passwd`: the new password is the first line of standard input.
fn user_passwd(service: &Service, name: &str) -> Result<(), AppError> {
    service.set_password(CLI_ACTOR, name, &stdin_line("password")?)?;
    eprintln!("password changed; the user's sessions have ended");
    Ok(())
}

/// `user list`: one line per user (username, id, flags, groups), tab-separated.
fn user_list(service: &Service) -> Result<(), AppError> {
    for u in service.users()? {
        let flags = [(u.admin, "admin"), (u.disabled, "disabled")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect::<Vec<_>>()
            .join(",");
        println!(
            "{}\t{}\t{}\t{}",
            u.username,
            u.id,
            flags,
            u.groups.join(",")
        );
    }
    Ok(())
}

/// `--attr KEY=VALUE` options as attributes.
fn parse_attributes(attrs: &[String]) -> Result<BTreeMap<String, String>, AppError> {
    let mut attributes = BTreeMap::new();
    for a in attrs {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| AppError::invalid("attr", format!("{a:?} is not KEY=VALUE")))?;
        attributes.insert(k.to_owned(), v.to_owned());
    }
    Ok(attributes)
}

/// `apikey create`: prints only the key, so scripts can capture it.
fn apikey_create(service: &Service, user: &str, input: ApiKeyInput) -> Result<(), AppError> {
    let created = service.create_api_key(CLI_ACTOR, user, input)?;
    println!("{}", created.key);
    Ok(())
}

/// `apikey list`: one line per key (prefix, id, state, last use), tab-separated.
fn apikey_list(service: &Service, user: &str) -> Result<(), AppError> {
    for k in service.api_keys(user)? {
        let state = if k.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        let used = k
            .last_used_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never used".into());
        println!("{}\t{}\t{}\t{}", k.prefix, k.id, state, used);
    }
    Ok(())
}

/// `asset list`: one line per asset (path, id, state, algorithm, expiry, name), tab-separated.
fn asset_list(service: &Service) -> Result<(), AppError> {
    for a in service.assets()? {
        let expiry = a
            .expiry_seconds
            .map(|e| format!("{e}s"))
            .unwrap_or_else(|| "no expiry".into());
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            a.path, a.id, a.state, a.algorithm, expiry, a.name
        );
    }
    Ok(())
}

/// `asset purge`: deletes a trashed asset for good.
fn asset_purge(service: &Service, asset: &str) -> Result<(), AppError> {
    service.purge_asset(CLI_ACTOR, &asset_id(service, asset)?, None)?;
    eprintln!("purged");
    Ok(())
}

/// `asset create`'s options as the service's input. Files and standard input are read in this
/// order: the template, then the secret, then the key file.
fn asset_input(args: CreateAsset) -> Result<AssetInput, AppError> {
    let delivery = delivery(
        args.json_delivery,
        args.redirect_url,
        args.form_post_url.map(|url| (url, args.form_post_field)),
        args.return_to_prefix,
        args.default_delivery.as_deref(),
    )?;
    let template = if let Some(template_file) = args.template_file {
        read_template(&template_file)?
    } else {
        String::new()
    };
    let expiry_seconds = match args.expiry.as_str() {
        "none" => None,
        s => Some(
            s.parse()
                .map_err(|_| AppError::invalid("expiry", "must be a number of seconds or none"))?,
        ),
    };
    let secret = if args.secret_stdin {
        Some(stdin_line("secret")?)
    } else {
        None
    };
    let read = (!args.read_user.is_empty() || !args.read_group.is_empty()).then_some(AccessRule {
        users: args.read_user,
        groups: args.read_group,
    });
    let key = key_input(args.key_type, args.key_file)?;
    Ok(AssetInput {
        name: args.name,
        path: args.path,
        algorithm: args.algorithm,
        key,
        secret,
        generate_secret: args.generate_secret,
        accept_weak_secret: args.accept_weak_secret,
        template,
        expiry_seconds,
        issuer: args.issuer,
        audience: args.audience,
        not_before: args.nbf,
        jti: args.jti,
        read,
        write: Some(AccessRule {
            users: args.write_user,
            groups: args.write_group,
        }),
        version: None,
        preset: args.preset,
        key_id: args.key_id,
        delivery,
        cors_origins: Some(args.cors_origin),
        request_params: Some(
            crate::domain::asset::RequestParam::parse_lines(&args.request_param.join("\n"))
                .map_err(|m| {
                    AppError::invalid("request_params", m.replacen("line", "--request-param", 1))
                })?,
        ),
    })
}

/// The delivery options given, checked. None when none was given: a preset may then fill
/// them in (Zendesk: form post).
fn delivery(
    json: bool,
    redirect_url: Option<String>,
    form_post: Option<(String, Option<String>)>,
    return_to_allowlist: Vec<String>,
    default_mode: Option<&str>,
) -> Result<Option<Delivery>, AppError> {
    let default = match default_mode {
        None => DeliveryMode::Raw,
        Some(name) => DeliveryMode::parse(name).ok_or_else(|| {
            AppError::invalid(
                "default_delivery",
                "must be raw, json, redirect or form_post",
            )
        })?,
    };
    if !return_to_allowlist.is_empty() && redirect_url.is_none() && form_post.is_none() {
        return Err(AppError::invalid(
            "return_to_prefix",
            "is for redirect or form-post delivery: give --redirect-url or --form-post-url too",
        ));
    }
    let given = json || redirect_url.is_some() || form_post.is_some() || default_mode.is_some();
    Ok(given.then(|| Delivery {
        json,
        default,
        redirect: redirect_url.map(|url| RedirectDelivery {
            url,
            return_to_allowlist: return_to_allowlist.clone(),
        }),
        form_post: form_post.map(|(url, field)| FormPostDelivery {
            url,
            field: field.unwrap_or_else(|| "jwt".to_owned()),
            return_to_allowlist,
        }),
    }))
}

/// The asymmetric key asked for: a type to generate, or a PEM file to import.
fn key_input(
    key_type: Option<String>,
    key_file: Option<PathBuf>,
) -> Result<Option<KeyInput>, AppError> {
    match (key_type, key_file) {
        (Some(t), _) => Ok(Some(KeyInput::Generate(t))),
        (None, Some(file)) => {
            let pem = std::fs::read_to_string(&file).map_err(|e| {
                AppError::invalid("key", format!("cannot read {}: {e}", file.display()))
            })?;
            Ok(Some(KeyInput::Pem(SecretString::new(pem))))
        }
        (None, None) => Ok(None),
    }
}
