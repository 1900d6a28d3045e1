// The sandbox page: a Telegram-like chat driving the fake Bot API. It only sends updates and
// draws what the bot called; it has no dialog logic of its own.
"use strict";

const state = { personas: [], chat: 0, since: {}, messages: {}, poll: null, gen: 0 };
const $ = (id) => document.getElementById(id);

// Telegram's HTML subset, rebuilt element by element so that nothing else reaches the page.
const ALLOWED = new Set(["B", "STRONG", "I", "EM", "U", "INS", "S", "STRIKE", "DEL", "CODE", "PRE", "A", "BLOCKQUOTE", "TG-SPOILER", "SPAN"]);
function renderHTML(text, parseMode) {
  const frag = document.createDocumentFragment();
  if (parseMode !== "HTML") { frag.append(text); return frag; }
  const doc = new DOMParser().parseFromString("<body>" + text + "</body>", "text/html");
  const copy = (src, dst) => {
    for (const n of src.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) { dst.append(n.textContent); continue; }
      if (n.nodeType !== Node.ELEMENT_NODE) continue;
      if (!ALLOWED.has(n.tagName)) { copy(n, dst); continue; }
      const el = document.createElement(n.tagName === "TG-SPOILER" ? "span" : n.tagName.toLowerCase());
      if (n.tagName === "A") {
        const href = n.getAttribute("href") || "";
        if (/^https?:\/\//i.test(href)) { el.href = href; el.target = "_blank"; el.rel = "noopener noreferrer"; }
      }
      copy(n, el);
      dst.append(el);
    }
  };
  copy(doc.body, frag);
  return frag;
}

async function api(path, body) {
  const opts = body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {};
  const r = await fetch(path, opts);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

function toast(text, alert) {
  const t = $("toast");
  t.textContent = text;
  t.className = alert ? "toast alert" : "toast";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, alert ? 6000 : 2500);
}

function keyboard(markup, chat, msgID) {
  if (!markup || !markup.inline_keyboard) return null;
  const kb = document.createElement("div");
  kb.className = "kb";
  for (const row of markup.inline_keyboard) {
    const r = document.createElement("div");
    r.className = "row";
    for (const b of row) {
      let el;
      if (b.url) {
        el = document.createElement("a");
        if (/^https?:\/\//i.test(b.url)) { el.href = b.url; el.target = "_blank"; el.rel = "noopener"; }
        if (el.href && phonePersona()) {
          // A phone: the link opens phone-sized, as in Telegram's in-app browser.
          el.addEventListener("click", (e) => {
            e.preventDefault();
            window.open(b.url, "_blank", "popup,noopener,width=390,height=844");
          });
        }
      } else {
        el = document.createElement("button");
        el.type = "button";
        el.addEventListener("click", () => api("/sandbox/api/press", { chat, message_id: msgID, data: b.callback_data })
          .catch((e) => toast("press failed: " + e.message, true)));
      }
      el.textContent = b.text;
      r.append(el);
    }
    kb.append(r);
  }
  return kb;
}

function drawMessage(chat, m) {
  const box = document.createElement("div");
  box.className = "wrap";
  box.dataset.id = m.id;
  const bubble = document.createElement("div");
  bubble.className = "msg " + m.from;
  bubble.append(renderHTML(m.text, m.parseMode));
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = (m.edited ? "edited " : "") + new Date(m.at).toLocaleTimeString();
  bubble.append(meta);
  box.append(bubble);
  const kb = keyboard(m.keyboard, chat, m.id);
  if (kb) box.append(kb);
  if (m.from === "user") box.style.alignItems = "flex-end";
  return box;
}

function apply(chat, ev) {
  const msgs = state.messages[chat] || (state.messages[chat] = []);
  const kb = ev.keyboard ? ev.keyboard : null;
  switch (ev.kind) {
    case "user": msgs.push({ id: "u" + ev.seq, from: "user", text: ev.text, at: ev.at }); break;
    case "message": msgs.push({ id: ev.message_id, from: "bot", text: ev.text, parseMode: ev.parse_mode, keyboard: kb, at: ev.at }); break;
    case "edit": case "markup": {
      const m = msgs.find((x) => x.id === ev.message_id);
      if (!m) break;
      if (ev.kind === "edit") { m.text = ev.text; m.parseMode = ev.parse_mode; }
      m.keyboard = kb; m.edited = true; m.at = ev.at;
      break;
    }
    case "delete": { const i = msgs.findIndex((x) => x.id === ev.message_id); if (i >= 0) msgs.splice(i, 1); break; }
    case "answer": if (chat === state.chat) toast(ev.text, ev.alert); break;
  }
}

function redraw() {
  const box = $("messages");
  box.replaceChildren(...(state.messages[state.chat] || []).map((m) => drawMessage(state.chat, m)));
  box.scrollTop = box.scrollHeight;
}

async function poll(chat, gen) {
  while (gen === state.gen) {
    try {
      const j = await api(`/sandbox/api/events?chat=${chat}&since=${state.since[chat] || 0}`);
      if (gen !== state.gen) return;
      for (const ev of j.events) { apply(chat, ev); state.since[chat] = ev.seq; }
      if (j.events.length) redraw();
    } catch (e) {
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function phonePersona() {
  const p = state.personas.find((x) => x.chat_id === state.chat);
  return !!p && p.device === "phone";
}

function select(p) {
  state.chat = p.chat_id;
  document.body.classList.toggle("phone", p.device === "phone");
  state.gen++;
  for (const li of document.querySelectorAll("#personas li")) li.classList.toggle("active", li.dataset.chat === String(p.chat_id));
  $("chat-title").textContent = `${p.name} — ${p.role === "staff" ? "staff" : "parent"} (chat ${p.chat_id})`;
  redraw();
  poll(p.chat_id, state.gen);
  $("text").focus();
}

async function main() {
  state.personas = await api("/sandbox/api/personas");
  const ul = $("personas");
  for (const p of state.personas) {
    const li = document.createElement("li");
    li.dataset.chat = String(p.chat_id);
    li.append(p.name);
    const s = document.createElement("small");
    s.textContent = p.note;
    li.append(s);
    li.addEventListener("click", () => select(p));
    ul.append(li);
  }
  $("composer").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("text").value.trim();
    if (!text || !state.chat) return;
    $("text").value = "";
    try { await api("/sandbox/api/send", { chat: state.chat, text }); } catch (err) { toast("send failed: " + err.message, true); }
  });
  if (state.personas.length) select(state.personas[0]);
}

document.addEventListener("DOMContentLoaded", main);
