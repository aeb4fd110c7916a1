// Progressive enhancements for the admin UI. Every page works without this file.
"use strict";

function onReady(fn) {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
  else fn();
}

// Copy buttons: <button data-copy="#element-id"> copies that element's text (or value).
function setupCopy() {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      const text = "value" in source && source.value !== undefined ? source.value : source.textContent;
      try {
        await navigator.clipboard.writeText(text.trim());
        const label = button.textContent;
        button.textContent = "Copied";
        setTimeout(() => { button.textContent = label; }, 1500);
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    });
  });
}

// Times: <time datetime="RFC 3339"> shows the viewer's local time.
function setupLocalTimes() {
  document.querySelectorAll("time[datetime][data-local]").forEach((el) => {
    const d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) return;
    // The same shape as the server's UTC text (2026-12-03 10:37:39 UTC), in local time with
    // the zone's short name; the UTC text stays as the tooltip.
    const pad = (n) => String(n).padStart(2, "0");
    const zone = (new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
      .formatToParts(d).find((p) => p.type === "timeZoneName") || {}).value || "local";
    el.title = el.textContent.trim();
    el.textContent = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
  });
}

// Countdowns: <span data-countdown="unix seconds"> says how long until (or since) that time.
function describe(seconds) {
  const s = Math.abs(seconds);
  const parts = [];
  if (s >= 3600) parts.push(Math.floor(s / 3600) + " h");
  if (s >= 60) parts.push(Math.floor((s % 3600) / 60) + " min");
  parts.push((s % 60) + " s");
  return parts.join(" ");
}
function setupCountdowns() {
  const els = document.querySelectorAll("[data-countdown]");
  if (!els.length) return;
  const tick = () => {
    const now = Math.floor(Date.now() / 1000);
    els.forEach((el) => {
      const at = parseInt(el.getAttribute("data-countdown"), 10);
      const past = el.getAttribute("data-past") || "expired %s ago";
      const future = el.getAttribute("data-future") || "in %s";
      el.textContent = at > now ? future.replace("%s", describe(at - now)) : past.replace("%s", describe(now - at));
      el.classList.toggle("warning", at <= now && el.hasAttribute("data-warn-past"));
    });
  };
  tick();
  setInterval(tick, 1000);
}

// Editors: <textarea data-editor data-error-line="N"> gets a line-number gutter.
function setupEditors() {
  document.querySelectorAll("textarea[data-editor]").forEach((ta) => {
    const wrap = document.createElement("div");
    wrap.className = "editor";
    const gutter = document.createElement("div");
    gutter.className = "gutter";
    gutter.setAttribute("aria-hidden", "true");
    ta.parentNode.insertBefore(wrap, ta);
    wrap.appendChild(gutter);
    wrap.appendChild(ta);
    const bad = parseInt(ta.getAttribute("data-error-line") || "0", 10);
    const render = () => {
      const lines = ta.value.split("\n").length;
      gutter.textContent = "";
      for (let i = 1; i <= lines; i++) {
        const line = document.createElement("div");
        line.textContent = String(i);
        if (i === bad) line.className = "bad";
        gutter.appendChild(line);
      }
      gutter.scrollTop = ta.scrollTop;
    };
    ta.addEventListener("input", render);
    ta.addEventListener("scroll", () => { gutter.scrollTop = ta.scrollTop; });
    // Tab indents; Escape, then Tab, moves on to the next field (as in code editors that
    // follow the WAI-ARIA advice), so the keyboard is never trapped. Said in the field's hint.
    let leaving = false;
    ta.addEventListener("focus", () => { leaving = false; });
    ta.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        leaving = true;
        return;
      }
      if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.metaKey && !leaving) {
        e.preventDefault();
        const start = ta.selectionStart;
        ta.setRangeText("  ", start, ta.selectionEnd, "end");
        render();
        return;
      }
      if (e.key !== "Tab") leaving = false;
    });
    for (const id of (ta.getAttribute("aria-describedby") || "").split(/\s+/)) {
      const hint = id && document.getElementById(id);
      if (hint && hint.classList.contains("hint")) {
        hint.append(" In the editor, Tab indents; press Esc, then Tab, to move to the next field.");
        break;
      }
    }
    render();
  });
}

// Confirmations: <form data-confirm="question"> asks before submitting.
function setupConfirms() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
}

// Generate buttons: <button data-generate="#field"> fills a secret field with 64 random characters.
function setupGenerate() {
  document.querySelectorAll("[data-generate]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => {
      const field = document.querySelector(button.getAttribute("data-generate"));
      if (!field) return;
      const bytes = new Uint8Array(48);
      crypto.getRandomValues(bytes);
      let s = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      field.classList.remove("masked");
      field.value = s;
      field.dispatchEvent(new Event("input"));
      // The secret is shown (unmasked) with a copy button and the warning that it is shown
      // only now.
      const note = document.querySelector(button.getAttribute("data-generated-note"));
      if (note) note.hidden = false;
    });
  });
}

// Sections for some choices only: <div data-show-for="#select" data-show-values="A B"> is shown
// while the select's value is one of those (without JavaScript every section stays visible).
function setupShowFor() {
  document.querySelectorAll("[data-show-for]").forEach((el) => {
    const control = document.querySelector(el.getAttribute("data-show-for"));
    if (!control) return;
    const values = (el.getAttribute("data-show-values") || "").split(/\s+/);
    const update = () => { el.hidden = !values.includes(control.value); };
    control.addEventListener("change", update);
    update();
  });
}

// Key types: <select data-key-type-for="#algorithm"> offers only the key types that fit the
// algorithm (options carry data-algorithms), and names the usual one in its empty option.
function setupKeyTypes() {
  document.querySelectorAll("select[data-key-type-for]").forEach((select) => {
    const algorithm = document.querySelector(select.getAttribute("data-key-type-for"));
    if (!algorithm) return;
    const usual = select.querySelector('option[value=""]');
    const update = () => {
      const fits = (o) => (o.getAttribute("data-algorithms") || "").split(/\s+/).includes(algorithm.value);
      let first = null;
      select.querySelectorAll("option[data-algorithms]").forEach((o) => {
        o.disabled = !fits(o);
        o.hidden = o.disabled;
        if (!o.disabled && !first) first = o;
      });
      if (usual && first) usual.textContent = `${first.value} (the usual type for ${algorithm.value})`;
      if (select.selectedOptions[0] && select.selectedOptions[0].disabled) select.value = "";
    };
    algorithm.addEventListener("change", update);
    update();
  });
}

// "Fetch as me" on the preview: GET the token URL as the signed-in admin and show the answer
// on the page (status, token, decoded) instead of downloading it; 403 and 500 say what they
// mean, since the token URL answers them with an empty body.
function base64UrlJson(part) {
  const text = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  return JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)), null, 2);
}


function setupFetchAsMe() {
  const FETCH_HINTS = {
    200: "The token URL answered with this token.",
    403: "403: the token URL refused you; administrators may fetch every asset, so your session has most likely ended: sign in again and retry.",
    404: "404: there is no live asset at this URL (it is in the trash, or its path changed).",
    500: "500: the asset cannot issue a token for you (a template that fails for you, or a key problem). The preview above shows the error; the server log has the details.",
  };
  const link = document.querySelector("a[data-fetch-as-me]");
  const panel = document.getElementById("fetch-result");
  if (!link || !panel) return;
  const part = (name) => panel.querySelector(`[data-${name}]`);
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    panel.hidden = false;
    part("token").hidden = true;
    part("decoded").hidden = true;
    part("status").textContent = "Fetching…";
    part("hint").textContent = "";
    try {
      const res = await fetch(link.getAttribute("href"), {
        credentials: "same-origin",
        headers: { Accept: "application/jwt" },
        cache: "no-store",
      });
      const body = (await res.text()).trim();
      part("status").textContent = `${res.status} ${res.statusText}`.trim();
      part("status").className = `verdict ${res.ok ? "ok" : "bad"}`;
      part("hint").textContent = FETCH_HINTS[res.status] || `The token URL answered ${res.status}.`;
      if (res.ok && body.split(".").length === 3) {
        const [header, payload] = body.split(".");
        part("token").textContent = body;
        part("token").hidden = false;
        try {
          part("header").textContent = base64UrlJson(header);
          part("payload").textContent = base64UrlJson(payload);
          part("decoded").hidden = false;
        } catch (_) {
          // Not JSON: the token is shown as it came.
        }
      }
    } catch (e) {
      part("status").textContent = "The request failed";
      part("status").className = "verdict bad";
      part("hint").textContent = String(e);
    }
    panel.scrollIntoView({ block: "nearest" });
  });
}

// After a refused save: the first field with an error has the focus (the summary above the
// form links to each of them).
function focusFirstError() {
  if (!document.getElementById("form-errors")) return;
  const first = document.querySelector('[aria-invalid="true"]');
  if (first) first.focus({ preventScroll: false });
}

// The debugger: the token is decoded as it is typed (verifying still needs the server), and
// choosing an asset or pasting a secret or key selects that way of verifying.
function setupDebugger() {
  const token = document.querySelector("textarea#token");
  const live = document.getElementById("live-decode");
  if (!token || !live) return;
  const part = (name) => live.querySelector(`[data-live="${name}"]`);
  const update = () => {
    const text = token.value.trim();
    if (!text) {
      live.hidden = true;
      return;
    }
    live.hidden = false;
    const parts = text.split(".");
    try {
      if (parts.length !== 3) throw new Error("a JWT has three parts separated by dots");
      part("header").textContent = base64UrlJson(parts[0]);
      part("payload").textContent = base64UrlJson(parts[1]);
      part("error").hidden = true;
    } catch (e) {
      part("header").textContent = "";
      part("payload").textContent = "";
      part("error").textContent = `Not decodable yet: ${e.message}`;
      part("error").hidden = false;
    }
  };
  token.addEventListener("input", update);
  update();
  const pick = (field, radio) => {
    const f = document.getElementById(field);
    const r = document.getElementById(radio);
    if (!f || !r) return;
    const choose = () => { if (f.value.trim() !== "") r.checked = true; };
    f.addEventListener(f.tagName === "SELECT" ? "change" : "input", choose);
  };
  pick("asset", "verify-asset");
  pick("secret", "verify-secret");
  pick("public_key", "verify-public-key");
}

// Typing a user or group into "Who may fetch" chooses "Only these users and groups".
function setupReadRule() {
  const listed = document.querySelector('input[name="read_mode"][value="listed"]');
  if (!listed) return;
  for (const id of ["read_users", "read_groups"]) {
    const field = document.getElementById(id);
    if (field) field.addEventListener("input", () => { if (field.value.trim() !== "") listed.checked = true; });
  }
}

// The rule fields hold comma-separated lists: each gets its own suggestion list, filled from
// the server as the administrator types the current name (the page's list without JavaScript
// only completes the first name). Suggestions keep what is typed before the last comma.
function setupPickers() {
  const fields = document.querySelectorAll('input[list="known-users"], input[list="known-groups"]');
  for (const field of fields) {
    const kind = field.getAttribute("list") === "known-users" ? "users" : "groups";
    const list = document.createElement("datalist");
    list.id = field.id + "-choices";
    field.after(list);
    field.setAttribute("list", list.id);
    field.setAttribute("autocomplete", "off");
    const cache = new Map();
    let timer = 0;
    let asked = "";
    const show = (before, chosen, names) => {
      list.replaceChildren(...names
        .filter((n) => !chosen.has(n.toLowerCase()))
        .map((n) => { const o = document.createElement("option"); o.value = before + n; return o; }));
    };
    const update = () => {
      const value = field.value;
      const cut = value.lastIndexOf(",");
      const before = cut < 0 ? "" : value.slice(0, cut + 1).replace(/\s*$/, " ");
      const current = value.slice(cut + 1).trim();
      const chosen = new Set(value.slice(0, cut + 1).split(",").map((s) => s.trim().toLowerCase()).filter(Boolean));
      const key = current.toLowerCase();
      if (cache.has(key)) { show(before, chosen, cache.get(key)); return; }
      clearTimeout(timer);
      timer = setTimeout(() => {
        asked = key;
        fetch("/admin/suggest?field=" + kind + "&q=" + encodeURIComponent(current), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then((r) => (r.ok ? r.json() : []))
          .then((names) => {
            if (!Array.isArray(names)) return;
            cache.set(key, names);
            if (asked === key) show(before, chosen, names);
          })
          .catch(() => {});
      }, 150);
    };
    field.addEventListener("input", update);
    field.addEventListener("focus", update);
  }
}

// Unsaved changes over a sign-in with an identity provider: the sign-in page that carries them
// (sealed by the server, secrets left out) keeps them in this tab's sessionStorage when a
// provider's button is followed. Back on the form's page, signed in, they are posted to it with
// the page's CSRF token and shown there, not saved: what the password sign-in does in one step.
function setupDraftCarry() {
  // Inside the function: a page written again with document.write runs this file again in the
  // same global scope, where a top-level const would be declared twice.
  const DRAFT_KEY = "jas-unsaved-changes";
  const login = document.querySelector('form[action="/login"]');
  const draft = login && login.querySelector('input[name="draft"]');
  if (draft) {
    const next = login.querySelector('input[name="next"]').value;
    for (const link of document.querySelectorAll("a.provider")) {
      link.addEventListener("click", () => {
        try {
          sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ next, draft: draft.value, at: Date.now() }));
        } catch (_) { /* storage refused: the page says the password keeps them */ }
      });
    }
    return;
  }
  let kept = null;
  try { kept = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null"); } catch (_) { kept = null; }
  if (!kept || typeof kept.next !== "string") return;
  if (kept.next !== location.pathname && kept.next !== location.pathname + location.search) return;
  sessionStorage.removeItem(DRAFT_KEY);
  // The server refuses a draft older than 12 hours or sealed for another page anyway.
  if (!(Date.now() - kept.at < 12 * 3600 * 1000)) return;
  const csrf = document.querySelector('form[method="post"] input[name="csrf"]');
  if (!csrf) return;
  const form = document.createElement("form");
  form.method = "post";
  form.action = kept.next;
  for (const [name, value] of [["csrf", csrf.value], ["restore_draft", kept.draft]]) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}

onReady(() => {
  setupDraftCarry();
  setupReadRule();
  setupPickers();
  setupDebugger();
  focusFirstError();
  setupFetchAsMe();
  setupShowFor();
  setupKeyTypes();
  setupCopy();
  setupLocalTimes();
  setupCountdowns();
  setupEditors();
  setupConfirms();
  setupGenerate();
});
