// 示闲 / 示忙 (with a reason) / 话后整理, shared by the agent and expert pages. The console only asks;
// the state shown is the one the ACD confirmed from Asterisk's events (GET /api/console/state and the
// websocket heartbeats).
"use strict";

const StateBar = (() => {
  const { api, errorText, toast, log } = HotlineConsole;
  const REQUEST = { idle: "示闲", paused: "示忙", wrapup: "话后整理" };
  const REASON = { meal: "用餐", meeting: "会议", training: "培训", other: "其他" };
  const CONFIRMS = { idle: "ready", paused: "not_ready", wrapup: "wrap_up" };  // request → ACD state
  let pending = null;

  function show(confirmed) {
    if (!confirmed || !confirmed.label) return;
    const node = document.getElementById("agent-state");
    node.textContent = confirmed.label + (confirmed.reason ? "（" + confirmed.reason + "）" : "");
    node.dataset.state = String(confirmed.state);
    if (pending && CONFIRMS[pending] === confirmed.state) {
      pending = null;
      document.getElementById("state-request").textContent = "";
    }
  }

  async function refresh() {
    const result = await api("GET", "/api/console/state");
    if (result.ok) show(result.data);
  }

  async function request(state, reason) {
    const result = await api("POST", "/api/console/state", { state, reason: reason || null });
    if (!result.ok) { toast(errorText(result), true); return; }
    const text = REQUEST[state] + (reason ? "（" + REASON[reason] + "）" : "");
    pending = state;
    document.getElementById("state-request").textContent = "已提交：" + text + "，等待确认";
    log("状态已提交：" + text);
    setTimeout(refresh, 1000);
  }

  function wire() {
    document.getElementById("btn-idle").addEventListener("click", () => request("idle"));
    document.getElementById("btn-wrapup").addEventListener("click", () => request("wrapup"));
    document.getElementById("btn-pause").addEventListener("click",
      () => request("paused", document.getElementById("pause-reason").value));
    refresh();
  }

  // heartbeats of the websocket carry the confirmed state
  function fromHeartbeat(frame) { if (frame && frame.agent_state) show(frame.agent_state); }
  return { wire, request, refresh, fromHeartbeat };
})();
