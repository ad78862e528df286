// 签入 / 示闲 / 示忙 (with a reason) / 话后整理 / 结束整理 / 签出, shared by the agent and expert pages.
// The ACD's routes act on the PBX (QueueAdd, QueuePause, QueueRemove); the state shown is always the one
// the ACD confirmed from Asterisk's events (GET /api/acd/me, and the websocket heartbeats).
"use strict";

const StateBar = (() => {
  const { api, errorText, toast, log } = HotlineConsole;
  const REASON = { meal: "用餐", meeting: "会议", training: "培训", other: "其他" };
  // button → [request, label, the confirmed state that ends the wait]
  const ACTIONS = {
    login: ["/api/acd/me/login", null, "签入", null],
    ready: ["/api/acd/me/ready", null, "示闲", "ready"],
    notReady: ["/api/acd/me/not-ready", "reason", "示忙", "not_ready"],
    wrapupDone: ["/api/acd/me/wrap-up-done", null, "结束整理", "ready"],
    logout: ["/api/acd/me/logout", null, "签出", "logged_out"],
  };
  let pending = null;

  function setNote(text) { document.getElementById("state-request").textContent = text; }

  function show(confirmed) {
    if (!confirmed || !confirmed.label) return;
    const node = document.getElementById("agent-state");
    const reason = confirmed.reason && confirmed.reason !== confirmed.label ? confirmed.reason : null;  // not 话后整理（话后整理）
    node.textContent = confirmed.label + (reason ? "（" + reason + "）" : "");
    node.dataset.state = String(confirmed.state);
    document.getElementById("btn-wrapup-done").disabled = confirmed.state !== "wrap_up";
    if (pending && (pending === confirmed.state || (pending === "logged_in" && confirmed.state !== "logged_out"))) {
      pending = null;
      setNote("");
    }
  }

  async function refresh() {
    const result = await api("GET", "/api/acd/me");
    if (result.ok) show(result.data);
  }

  // Asterisk confirms within a second or so: ask until it has, rather than wait for the next heartbeat
  let asking = false;
  async function awaitConfirmation() {
    if (asking) return;
    asking = true;
    try {
      for (let i = 0; i < 15 && pending; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await refresh();
      }
    } finally {
      asking = false;
    }
  }

  async function act(name) {
    const [path, needsReason, label, awaited] = ACTIONS[name];
    const reason = needsReason ? document.getElementById("pause-reason").value : null;
    const result = await api("POST", path, needsReason ? { reason } : undefined);
    const text = label + (reason ? "（" + REASON[reason] + "）" : "");
    if (!result.ok) { toast(text + "失败：" + errorText(result), true); return; }
    pending = awaited || "logged_in";
    setNote("已提交：" + text + "，等待确认");
    log("已提交：" + text);
    show(result.data);
    awaitConfirmation();
  }

  // 话后整理 on request: the ACD enters it by itself after each call; asking for it explicitly goes on
  // stream acd:requests (POST /api/console/state) for the ACD to honour.
  async function wrapUp() {
    const result = await api("POST", "/api/console/state", { state: "wrapup", reason: null });
    if (!result.ok) { toast("话后整理失败：" + errorText(result), true); return; }
    pending = "wrap_up";
    setNote("已提交：话后整理，等待确认");
    log("已提交：话后整理");
    awaitConfirmation();
  }

  function wire() {
    const on = (id, fn) => document.getElementById(id).addEventListener("click", fn);
    on("btn-queue-login", () => act("login"));
    on("btn-idle", () => act("ready"));
    on("btn-pause", () => act("notReady"));
    on("btn-wrapup-done", () => act("wrapupDone"));
    on("btn-queue-logout", () => act("logout"));
    on("btn-wrapup", wrapUp);
    document.getElementById("btn-wrapup-done").disabled = true;
    refresh();
  }

  // the ACD could not honour a request sent on stream acd:requests (话后整理 on request): say why
  const REQUESTED = { wrapup: "话后整理", idle: "示闲", paused: "示忙" };
  function fromEvent(event) {
    if (!event || event.type !== "agent.request_refused") return false;
    pending = null;
    setNote("");
    const text = (REQUESTED[event.state] || String(event.state)) + "失败：" + (event.message || "");
    toast(text, true);
    log(text);
    return true;
  }

  // heartbeats of the websocket carry the confirmed state
  function fromHeartbeat(frame) { if (frame && frame.agent_state) show(frame.agent_state); }
  return { wire, refresh, fromHeartbeat, fromEvent, show, awaitConfirmation };
})();
