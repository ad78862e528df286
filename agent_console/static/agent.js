// 坐席工作台: screen pops, call controls, history, knowledge base and the work-order form.
"use strict";

(() => {
  const { api, errorText, el, setText, clear, toast, log, connect } = HotlineConsole;
  let currentCall = null;       // call_id of the pop on screen
  const kbUsed = new Map();     // id -> title of knowledge-base articles cited in the work order
  let previewed = false;        // the save button needs a fresh deadline preview

  function useKb(hit) {
    if (hit.id === undefined || hit.id === null) return;
    kbUsed.set(String(hit.id), hit.title || String(hit.id));
    renderKbUsed();
    invalidatePreview();
  }

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
    document.getElementById("wo-caller").value = event.caller_number || "";
    document.getElementById("wo-call-id").value = event.call_id || "";
    const category = event.ivr && event.ivr.category;
    if (category && PopPanel.CATEGORY[category]) document.getElementById("wo-category").value = category;
    kbUsed.clear();
    renderKbUsed();
    invalidatePreview();
    setText("wo-result", "");
  }

  function onEvent(event) {
    if (!event || typeof event !== "object") return;
    if (event.type === "pop.ringing" || event.type === "pop.answered") {
      PopPanel.show(event, useKb);
      prefill(event);
      log(PopPanel.STATUS[event.type] + "：" + (event.caller_number || "未知号码"));
    } else if (event.type === "pop.hangup") {
      if (event.call_id === currentCall) setText("pop-status", "已挂机");
      log("通话结束：" + (event.caller_number || event.call_id || ""));
    } else {
      log("事件：" + String(event.type));
    }
  }

  function workOrder() {
    return {
      caller_number: document.getElementById("wo-caller").value.trim(),
      category: document.getElementById("wo-category").value,
      urgency: document.getElementById("wo-urgency").value,
      content: document.getElementById("wo-content").value.trim(),
      call_id: document.getElementById("wo-call-id").value || null,
      kb_article_ids: Array.from(kbUsed.keys()),
      resolved_on_call: document.getElementById("wo-resolved").checked,
      channel: "phone",
    };
  }

  const DEADLINE_LABELS = { dispatch_due: "转办时限", sign_due: "签收时限", handle_due: "办理时限",
                            complete_due: "办结时限", reply_due: "答复时限", revisit_due: "回访时限",
                            due_at: "办结时限" };

  function showDeadlines(data) {
    const list = document.getElementById("wo-deadlines");
    clear(list);
    const deadlines = (data && (data.deadlines || data)) || {};
    const entries = Array.isArray(deadlines)
      ? deadlines.map((d) => [d.label || d.name || d.kind, d.due_at || d.due || d.at])
      : Object.entries(deadlines).filter(([, v]) => typeof v === "string" || typeof v === "number")
          .map(([k, v]) => [DEADLINE_LABELS[k] || k, v]);
    for (const [label, due] of entries) {
      list.appendChild(el("dt", {}, String(label)));
      list.appendChild(el("dd", {}, String(due)));
    }
    if (!entries.length) list.appendChild(el("dd", {}, "即时办结，无后续时限"));
  }

  async function preview() {
    const result = await api("POST", "/api/workorders/preview", workOrder());
    if (!result.ok) { toast("时限预览失败：" + errorText(result), true); return; }
    showDeadlines(result.data);
    previewed = true;
    document.getElementById("wo-save").disabled = false;
  }

  async function save(ev) {
    ev.preventDefault();
    if (!previewed) { toast("请先预览办理时限", true); return; }
    const result = await api("POST", "/api/workorders", workOrder());
    if (!result.ok) { toast("保存失败：" + errorText(result), true); return; }
    const no = result.data && (result.data.order_no || result.data.id);
    setText("wo-result", "工单已保存：" + (no ?? ""));
    log("工单已保存：" + (no ?? ""));
    invalidatePreview();
  }

  async function callAction(button) {
    if (!currentCall) { toast("当前没有通话", true); return; }
    const action = button.dataset.action;
    const body = button.dataset.target ? { target: button.dataset.target } : {};
    const path = "/api/calls/" + encodeURIComponent(currentCall) + "/" + action;
    const result = await api("POST", path, body);
    if (!result.ok) { toast(button.textContent + "失败：" + errorText(result), true); return; }
    log(button.textContent + "：已发出");
  }

  async function searchHistory(ev) {
    ev.preventDefault();
    const number = document.getElementById("history-number").value.trim();
    if (!number) return;
    const result = await api("GET", "/api/history?caller_number=" + encodeURIComponent(number));
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
    const hits = Array.isArray(result.data) ? result.data : (result.data && (result.data.hits || result.data.results)) || [];
    PopPanel.fillList(list, hits, (hit) => PopPanel.kbItem(hit, useKb), "未找到相关知识");
  }

  document.addEventListener("DOMContentLoaded", () => {
    StateBar.wire();
    for (const button of document.querySelectorAll(".call-action")) {
      button.addEventListener("click", () => callAction(button));
    }
    document.getElementById("wo-preview").addEventListener("click", preview);
    document.getElementById("wo-form").addEventListener("submit", save);
    for (const id of ["wo-caller", "wo-category", "wo-urgency", "wo-content", "wo-resolved"]) {
      document.getElementById(id).addEventListener("change", invalidatePreview);
    }
    document.getElementById("history-form").addEventListener("submit", searchHistory);
    document.getElementById("kb-form").addEventListener("submit", searchKb);
    connect(onEvent);
  });
})();
