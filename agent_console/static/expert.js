// 专家座席: invitations to three-way calls or consultations, each with the case's pop.
"use strict";

(() => {
  const { api, errorText, el, clear, setText, toast, log, connect } = HotlineConsole;
  const invitations = new Map();  // call_id -> latest event

  async function answer(callId, accept) {
    const path = "/api/calls/" + encodeURIComponent(callId) + "/threeway/" + (accept ? "accept" : "decline");
    const result = await api("POST", path, {});
    if (!result.ok) { toast((accept ? "接受" : "拒绝") + "失败：" + errorText(result), true); return; }
    log((accept ? "已接受" : "已拒绝") + "邀请：" + callId);
    if (!accept) { invitations.delete(callId); render(); }
  }

  function render() {
    const list = document.getElementById("invitations");
    clear(list);
    if (!invitations.size) { list.appendChild(el("li", { className: "empty" }, "暂无邀请")); return; }
    for (const [callId, event] of invitations) {
      const show = el("button", { type: "button", className: "btn-small" }, "查看");
      const accept = el("button", { type: "button", className: "btn-small" }, "接受");
      const decline = el("button", { type: "button", className: "btn-small" }, "拒绝");
      show.addEventListener("click", () => PopPanel.show(event));
      accept.addEventListener("click", () => answer(callId, true));
      decline.addEventListener("click", () => answer(callId, false));
      const who = (event.from_agent ? "座席 " + event.from_agent + " 邀请：" : "邀请：") + (event.caller_number || "");
      list.appendChild(el("li", { className: "invitation", dataset: { callId } }, who + " ", show, accept, decline));
    }
  }

  function onEvent(event) {
    if (!event || typeof event !== "object" || StateBar.fromEvent(event)) return;
    if (event.type === "invite.threeway") {
      invitations.set(event.call_id, event);
      PopPanel.show(event);
      render();
      log("收到会商邀请：" + (event.caller_number || event.call_id));
    } else if (event.type === "pop.hangup") {
      // the case stays on screen (the expert may still be writing it up); only its status changes
      if (document.getElementById("pop-call-id").textContent === event.call_id) {
        setText("pop-status", PopPanel.hangupText(event.reason));
      }
      invitations.delete(event.call_id);
      render();
      log(PopPanel.hangupText(event.reason) + "：" + (event.caller_number || event.call_id));
    } else if (event.type && event.type.startsWith("pop.")) {
      PopPanel.show(event);
      log(PopPanel.STATUS[event.type] || event.type);
    }
  }

  document.addEventListener("DOMContentLoaded", () => { StateBar.wire(); connect(onEvent, StateBar.fromHeartbeat); });
})();
