// The screen pop panel shared by the agent and expert pages.
"use strict";

const PopPanel = (() => {
  const { el, setText, clear } = HotlineConsole;
  const STATUS = { "pop.ringing": "振铃中", "pop.answered": "通话中", "pop.hangup": "已挂机",
                   "invite.threeway": "会商邀请" };
  const CATEGORY = { consult: "咨询", help: "求助", complaint: "投诉", report: "举报", suggestion: "建议",
                     praise: "表扬", consumer_complaint: "消费投诉", economic_violation: "经济违法行为举报",
                     admin_efficiency: "行政效能投诉" };
  const HISTORY_FIELDS = [["order_no", ""], ["created_at", ""], ["started_at", ""], ["category", "类别"],
                          ["status", "状态"], ["outcome", "结果"], ["summary", ""], ["content", ""], ["title", ""]];

  function ivrPath(ivr) {
    if (!ivr) return "";
    const path = ivr.path;
    if (Array.isArray(path)) return path.join(" → ");
    return path ? String(path) : "";
  }

  function waitText(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.round(Number(seconds));
    return s >= 60 ? Math.floor(s / 60) + " 分 " + (s % 60) + " 秒" : s + " 秒";
  }

  function historyItems(history) {
    // history is {calls: [...], orders: [...], ...} or a list; every list found is shown
    if (!history) return [];
    if (Array.isArray(history)) return history;
    const items = [];
    for (const value of Object.values(history)) if (Array.isArray(value)) items.push(...value);
    return items;
  }

  function describe(item) {
    if (item === null || typeof item !== "object") return String(item);
    const parts = [];
    for (const [key, label] of HISTORY_FIELDS) {
      if (item[key] === undefined || item[key] === null || item[key] === "") continue;
      const value = key === "category" ? (CATEGORY[item[key]] || item[key]) : item[key];
      parts.push(label ? label + "：" + value : String(value));
    }
    return parts.length ? parts.join("  ") : JSON.stringify(item);
  }

  function fillList(list, items, render, emptyText) {
    clear(list);
    if (!items.length) { list.appendChild(el("li", { className: "empty" }, emptyText || "暂无")); return; }
    for (const item of items) list.appendChild(render(item));
  }

  function kbItem(hit, onUse) {
    const title = hit.title || hit.question || ("知识 #" + (hit.id ?? ""));
    const snippet = hit.snippet || hit.summary || hit.answer || "";
    const li = el("li", { className: "kb-hit", dataset: { id: String(hit.id ?? "") } },
      el("strong", {}, title), snippet ? el("div", { className: "snippet" }, snippet) : null);
    if (onUse) {
      const button = el("button", { type: "button", className: "btn-small" }, "引用");
      button.addEventListener("click", () => onUse(hit));
      li.appendChild(button);
    }
    return li;
  }

  function show(event, onUseKb) {
    setText("pop-status", STATUS[event.type] || event.type);
    setText("pop-caller", event.caller_number);
    setText("pop-ivr", ivrPath(event.ivr));
    const category = event.ivr && event.ivr.category;
    setText("pop-category", category ? (CATEGORY[category] || category) : "");
    setText("pop-wait", waitText(event.wait_seconds));
    setText("pop-call-id", event.call_id);
    fillList(document.getElementById("pop-history"), historyItems(event.history),
             (item) => el("li", {}, describe(item)), "无历史记录");
    fillList(document.getElementById("pop-kb"), event.kb_hits || [], (hit) => kbItem(hit, onUseKb), "无推荐");
  }

  return { show, describe, historyItems, kbItem, fillList, waitText, ivrPath, CATEGORY, STATUS };
})();
