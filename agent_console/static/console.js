// Shared helpers of every console page. Everything shown is set with textContent: no data ever
// reaches innerHTML, so a caller's text cannot inject markup.
"use strict";

const HotlineConsole = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "网络错误" } };
    }
    if (resp.status === 401) { window.location.assign("/login"); }
    let data = null;
    try { data = await resp.json(); } catch (err) { data = null; }
    return { ok: resp.ok, status: resp.status, data };
  }

  function errorText(result) {
    const d = result.data && result.data.detail;
    if (typeof d === "string") return d;
    if (d && typeof d === "object" && typeof d.message === "string") return d.message;
    if (Array.isArray(d)) return d.map((e) => (e && e.msg) || "").join("；");
    if (result.status === 404) return "该功能尚未开通 (404)";
    return "请求失败 (" + result.status + ")";
  }

  // el("li", {className: "x", dataset: {id: 1}}, "text", childNode)
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "className" || key === "type" || key === "value" || key === "checked" ||
               key === "disabled" || key === "id" || key === "title" || key === "href") node[key] = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function setText(id, value) {
    const node = document.getElementById(id);
    if (node) node.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function toast(message, isError) {
    const node = document.getElementById("toast");
    node.textContent = message;
    node.className = "toast" + (isError ? " toast-error" : "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { node.className = "toast hidden"; }, 4000);
  }

  function log(text) {
    const list = document.getElementById("event-log");
    if (!list) return;
    list.insertBefore(el("li", {}, new Date().toLocaleTimeString("zh-CN") + "  " + text), list.firstChild);
    while (list.childNodes.length > 200) list.removeChild(list.lastChild);
  }

  // The websocket. A new page asks for the recent window (last_id null) and rebuilds its panels from it;
  // a reconnect of the same page resumes from the last id it handled, so nothing is lost or shown twice.
  function connect(onEvent, onHeartbeat) {
    const status = document.getElementById("ws-status");
    let lastId = null;
    let delay = 500;
    const after = (a, b) => {
      const [am, as] = a.split("-").map(Number);
      const [bm, bs] = b.split("-").map(Number);
      return am === bm ? as > bs : am > bm;
    };
    function open() {
      const proto = window.location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(proto + window.location.host + "/ws");
      ws.onmessage = (msg) => {
        let frame;
        try { frame = JSON.parse(msg.data); } catch (err) { return; }
        if (frame.type === "welcome") {
          delay = 500;
          ws.send(JSON.stringify({ type: "resume", last_id: lastId }));
          if (status) { status.textContent = "已连接"; status.className = "ws-status ws-up"; }
        } else if (frame.type === "event") {
          if (lastId && !after(frame.id, lastId)) return;
          lastId = frame.id;
          onEvent(frame.event, frame.id);
        } else if (frame.type === "heartbeat") {
          if (onHeartbeat) onHeartbeat(frame);
        } else if (frame.type === "error") {
          log("服务器提示：" + frame.message);
          if (frame.code === "session_ended") window.location.assign("/login");
        }
      };
      ws.onclose = (ev) => {
        if (status) { status.textContent = "重连中…"; status.className = "ws-status ws-down"; }
        if (ev.code === 4401) { window.location.assign("/login"); return; }
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    open();
  }

  function wireLogout() {
    const button = document.getElementById("logout");
    if (!button) return;
    button.addEventListener("click", async () => {
      await api("POST", "/logout");
      window.location.assign("/login");
    });
  }

  document.addEventListener("DOMContentLoaded", wireLogout);
  return { api, errorText, el, setText, clear, toast, log, connect };
})();
