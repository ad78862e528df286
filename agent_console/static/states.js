// 示闲 / 示忙 (with a reason) / 话后整理, shared by the agent and expert pages.
"use strict";

const StateBar = (() => {
  const { api, errorText, toast, log, setText } = HotlineConsole;
  const LABEL = { idle: "空闲", paused: "示忙", wrapup: "话后整理" };
  const REASON = { meal: "用餐", meeting: "会议", training: "培训", other: "其他" };

  async function request(state, reason) {
    const result = await api("POST", "/api/console/state", { state, reason: reason || null });
    if (!result.ok) { toast(errorText(result), true); return; }
    const text = LABEL[state] + (reason ? "（" + REASON[reason] + "）" : "");
    setText("agent-state", text);
    log("状态已提交：" + text);
  }

  function wire() {
    document.getElementById("btn-idle").addEventListener("click", () => request("idle"));
    document.getElementById("btn-wrapup").addEventListener("click", () => request("wrapup"));
    document.getElementById("btn-pause").addEventListener("click",
      () => request("paused", document.getElementById("pause-reason").value));
  }
  // the ACD's confirmed state, when it publishes one on the seat's stream
  function fromEvent(event) {
    if (!event || event.type !== "agent.state" || !LABEL[event.state]) return false;
    setText("agent-state", LABEL[event.state] + (REASON[event.reason] ? "（" + REASON[event.reason] + "）" : ""));
    return true;
  }
  return { wire, request, fromEvent };
})();
