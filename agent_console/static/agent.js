// 坐席工作台: screen pops, call controls, history, knowledge base and the work-order form.
"use strict";

(() => {
  const { api, errorText, el, setText, clear, toast, log, connect } = HotlineConsole;
  let currentCall = null;       // call_id of the pop on screen
  const kbUsed = new Map();     // id -> title of knowledge-base articles cited in the work order
  let previewed = false;        // the save button needs a fresh deadline preview

  function kbSource(source) {
    return (hit) => {
      const id = hit.article_id ?? hit.id;
      if (id === undefined || id === null) return;
      kbUsed.set(String(id), hit.title || String(id));
      renderKbUsed();
      invalidatePreview();
      if (currentCall) {  // feeds the KB's usage figures; a failure here must not block the agent
        api("POST", "/api/kb/hits", { call_id: currentCall, article_ids: [Number(id)], kind: "used", source });
      }
    };
  }
  const useKb = kbSource("pop");

  function renderKbUsed() {
    const list = document.getElementById("wo-kb-used");
    clear(list);
    if (!kbUsed.size) { list.appendChild(el("li", { className: "empty" }, "无")); return; }
    for (const [id, title] of kbUsed) {
      const remove = el("button", { type: "button", className: "btn-small" }, "移除");
      remove.addEventListener("click", () => { kbUsed.delete(id); renderKbUsed(); invalidatePreview(); });
      list.appendChild(el("li", { dataset: { id } }, title + " ", remove));
    }
  }

  function invalidatePreview() {
    previewed = false;
    document.getElementById("wo-save").disabled = true;
    clear(document.getElementById("wo-deadlines"));
  }

  function prefill(event) {
    // a new call starts a new form; later pops of the same call keep what the agent typed
    if (event.call_id === currentCall) return;
    currentCall = event.call_id;
    document.getElementById("wo-form").reset();
    toggleAnswer();
    document.getElementById("wo-caller").value = event.caller_number || "";
    document.getElementById("wo-call-id").value = event.call_id || "";
    const category = event.ivr && event.ivr.category;
    if (category && PopPanel.CATEGORY[category]) document.getElementById("wo-category").value = category;
    kbUsed.clear();
    renderKbUsed();
    invalidatePreview();
    document.getElementById("wo-result").textContent = "";
  }

  // control.<kind> events: how a transfer, three-way call or consultation the agent started goes on
  const CONTROL = { transfer: "转接", threeway: "三方通话", consult: "咨询专家" };
  const CONTROL_STATE = {
    requested: "已发出", handed_over: "已转出", failed: "失败", citizen_gone: "市民已挂机",
    inviting: "正在邀请专家", originating: "正在呼叫", redirecting: "正在接入会议", joined: "已接通",
    declined: "专家已拒绝", consulting: "咨询中", closed: "已结束",
  };
  const TARGET = { expert: "专家", 110: "110", 119: "119", 120: "120" };

  function controlText(event) {
    const kind = event.type.slice("control.".length);
    const target = TARGET[event.target] ? "（" + TARGET[event.target] + (event.expert ? " " + event.expert : "") + "）" : "";
    const state = CONTROL_STATE[event.state] || String(event.state);
    return (CONTROL[kind] || kind) + target + "：" + state + (event.message ? "，" + event.message : "");
  }

  function onEvent(event) {
    if (!event || typeof event !== "object" || StateBar.fromEvent(event)) return;
    if (typeof event.type === "string" && event.type.startsWith("control.")) {
      const text = controlText(event);
      if (event.call_id === currentCall) {
        setText("control-status", text);
        // the citizen is with 110/119/120 now: this seat's part of the call is over
        if (event.state === "handed_over") setText("pop-status", "已转接" + (TARGET[event.target] || ""));
      }
      log(text);
      setTimeout(StateBar.refresh, 1000);  // a transfer ends the agent's leg: the ACD starts 话后整理
      return;
    }
    if (event.type === "pop.ringing" || event.type === "pop.answered") {
      PopPanel.show(event, useKb);
      prefill(event);
      log(PopPanel.STATUS[event.type] + "：" + (event.caller_number || "未知号码"));
    } else if (event.type === "pop.hangup") {
      if (event.call_id === currentCall) setText("pop-status", PopPanel.hangupText(event.reason));
      setTimeout(StateBar.refresh, 1000);  // after a call the ACD puts the seat in 话后整理 by itself
      log("通话结束：" + (event.caller_number || event.call_id || ""));
    } else {
      log("事件：" + String(event.type));
    }
  }

  const resolvedOnCall = () => document.getElementById("wo-resolved").checked;

  function toggleAnswer() {
    document.getElementById("wo-answer-box").classList.toggle("hidden", !resolvedOnCall());
  }

  // the body of POST /api/workorders (hotline.workorders.schemas.OrderCreate)
  function workOrder() {
    const order = {
      category: document.getElementById("wo-category").value,
      urgency: document.getElementById("wo-urgency").value,
      content: document.getElementById("wo-content").value.trim(),
      channel: "phone",
      caller_number: document.getElementById("wo-caller").value.trim() || null,
      call_ids: currentCall ? [document.getElementById("wo-call-id").value].filter(Boolean) : [],
      kb_article_ids: Array.from(kbUsed.keys()).map(Number),
    };
    // 即时办结: the answer given on the call closes the order on the spot
    if (resolvedOnCall()) order.answer = document.getElementById("wo-answer").value.trim();
    return order;
  }

  const DEADLINE_KINDS = { dispatch: "转办时限", sign: "签收时限", handle: "办理时限", complete: "办结时限",
                           reply: "答复时限", revisit: "回访时限", feedback: "反馈时限" };

  function showDeadlines(deadlines) {
    const list = document.getElementById("wo-deadlines");
    clear(list);
    for (const d of Array.isArray(deadlines) ? deadlines : []) {
      list.appendChild(el("dt", {}, d.label || DEADLINE_KINDS[d.kind] || d.kind));
      list.appendChild(el("dd", { className: "deadline", dataset: { kind: String(d.kind) } },
        PopPanel.when(d.due_at) + (d.provisional ? "（暂定）" : "")));
    }
    if (resolvedOnCall()) list.appendChild(el("dd", {}, "已勾选即时办结：保存后工单当场办结"));
    else if (!list.childNodes.length) list.appendChild(el("dd", {}, "无时限"));
  }

  async function preview() {
    const order = workOrder();
    const result = await api("POST", "/api/workorders/deadlines/preview",
                             { category: order.category, urgency: order.urgency });
    if (!result.ok) { toast("时限预览失败：" + errorText(result), true); return; }
    showDeadlines(result.data);
    previewed = true;
    document.getElementById("wo-save").disabled = false;
  }

  async function save(ev) {
    ev.preventDefault();
    if (!previewed) { toast("请先预览办理时限", true); return; }
    const order = workOrder();
    if (resolvedOnCall() && !order.answer) { toast("即时办结须填写解答内容", true); return; }
    const result = await api("POST", "/api/workorders", order);
    if (!result.ok) { toast("保存失败：" + errorText(result), true); return; }
    const no = result.data && (result.data.number || result.data.id);
    if (currentCall) {  // one-time answer rate: was the consultation answered on the call?
      api("POST", "/api/kb/consultations", { call_id: currentCall, category: order.category,
                                             dispatched: !resolvedOnCall() });
    }
    setText("wo-result", "工单已保存：" + (no ?? ""));
    log("工单已保存：" + (no ?? ""));
    invalidatePreview();
  }

  async function callAction(button) {
    if (!currentCall) { toast("当前没有通话", true); return; }
    const action = button.dataset.action;
    const body = button.dataset.target ? { target: button.dataset.target } : {};
    const summary = document.getElementById("wo-content").value.trim();
    if (summary && (action === "transfer" || action === "threeway")) body.summary = summary;  // 警情摘要
    const path = "/api/calls/" + encodeURIComponent(currentCall) + "/" + action;
    const result = await api("POST", path, body);
    if (!result.ok) { toast(button.textContent + "失败：" + errorText(result), true); return; }
    log(button.textContent + "：已发出");
    if (action === "hangup") setText("pop-status", "已挂断");  // the agent's leg (a room goes on without it)
  }

  async function searchHistory(ev) {
    ev.preventDefault();
    const number = document.getElementById("history-number").value.trim();
    if (!number) return;
    const result = await api("GET", "/api/callers/" + encodeURIComponent(number) + "/history");
    const list = document.getElementById("history-results");
    if (!result.ok) { clear(list); list.appendChild(el("li", { className: "empty" }, errorText(result))); return; }
    PopPanel.fillList(list, PopPanel.historyItems(result.data), (item) => el("li", {}, PopPanel.describe(item)),
                      "无历史记录");
  }

  async function searchKb(ev) {
    ev.preventDefault();
    const query = document.getElementById("kb-query").value.trim();
    if (!query) return;
    const result = await api("GET", "/api/kb/search?q=" + encodeURIComponent(query));
    const list = document.getElementById("kb-results");
    if (!result.ok) { clear(list); list.appendChild(el("li", { className: "empty" }, errorText(result))); return; }
    const hits = Array.isArray(result.data) ? result.data : [];
    PopPanel.fillList(list, hits, (hit) => PopPanel.kbItem(hit, kbSource("search")), "未找到相关知识");
  }

  document.addEventListener("DOMContentLoaded", () => {
    StateBar.wire();
    for (const button of document.querySelectorAll(".call-action")) {
      button.addEventListener("click", () => callAction(button));
    }
    document.getElementById("wo-preview").addEventListener("click", preview);
    document.getElementById("wo-form").addEventListener("submit", save);
    document.getElementById("wo-resolved").addEventListener("change", toggleAnswer);
    for (const id of ["wo-category", "wo-urgency"]) {  // what the deadlines depend on
      document.getElementById(id).addEventListener("change", invalidatePreview);
    }
    document.getElementById("history-form").addEventListener("submit", searchHistory);
    document.getElementById("kb-form").addEventListener("submit", searchKb);
    connect(onEvent, StateBar.fromHeartbeat);
  });
})();
