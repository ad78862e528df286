// The screen pop panel shared by the agent and expert pages.
"use strict";

const PopPanel = (() => {
  const { el, setText, clear } = HotlineConsole;
  const STATUS = { "pop.ringing": "振铃中", "pop.answered": "通话中", "pop.hangup": "已挂机",
                   "invite.threeway": "会商邀请" };
  const CATEGORY = { consult: "咨询", help: "求助", complaint: "投诉", report: "举报", suggestion: "建议",
                     praise: "表扬", consumer_complaint: "消费投诉", economic_violation: "经济违法行为举报",
                     admin_efficiency: "行政效能投诉" };
  const ORDER_STATUS = { accepted: "受理", dispatched: "转办", signed: "签收", handling: "办理", returned: "退回",
                         extended: "延期", completed: "办结", revisited: "回访", archived: "归档", terminal: "终结件" };
  const OUTCOME = { answered: "已接听", abandoned: "放弃", transferred: "已转接", ivr_only: "仅语音导航",
                    failed: "失败" };
  const HISTORY_FIELDS = [["number", "工单"], ["order_no", "工单"], ["created_at", ""], ["started_at", "来电"],
                          ["category", "类别"], ["ivr_category", "类别"], ["status", "状态"], ["outcome", "结果"],
                          ["content", ""], ["summary", ""], ["title", ""], ["count", "次数"]];
  const LABELS = { category: CATEGORY, ivr_category: CATEGORY, status: ORDER_STATUS, outcome: OUTCOME };

  function when(value) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
  }

  // the IVR machines' states (ivr/flows, HOTLINE_IVR_PATH) as the agent reads them
  const IVR_STEP = { welcome: "欢迎语", notice: "公告", complaint: "按键投诉", order_status: "查询工单",
                     emergency: "紧急求助", emergency_confirm: "确认转接", emergency_transfer: "转接紧急服务",
                     queue: "转人工", ask: "输入工单号", lookup: "查询", tell: "播报进度", done: "查询完毕",
                     give_up: "未查到", offer: "回呼提示", asked: "申请回呼", callback_booked: "已登记回呼",
                     declined: "继续等待" };

  function ivrPath(ivr) {
    if (!ivr) return "";
    if (Array.isArray(ivr.steps) && ivr.steps.length) return ivr.steps.map((s) => IVR_STEP[s] || s).join(" → ");
    const path = ivr.path;  // the AGI commands, when the IVR set no steps (another IVR, or none)
    if (Array.isArray(path)) return path.join(" → ");
    return path ? String(path) : "";
  }

  function waitText(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.round(Number(seconds));
    return s >= 60 ? Math.floor(s / 60) + " 分 " + (s % 60) + " 秒" : s + " 秒";
  }

  // history is the caller history (hotline.history: flags, open orders with deadlines, orders, calls) or a
  // list: flags first, then each order once (open ones first), then the calls
  function historyItems(history) {
    if (!history) return [];
    if (Array.isArray(history)) return history;
    const items = [];
    if (history.repeat_caller) items.push("重复来电");
    for (const group of history.repeats || []) {
      items.push("同一事项来电 " + group.count + " 次（" + (CATEGORY[group.category] || group.category) + "）");
    }
    if (history.last_satisfaction !== undefined && history.last_satisfaction !== null) {
      items.push("上次满意度：" + history.last_satisfaction);
    }
    const seen = new Set();
    for (const order of [...(history.open_orders || []), ...(history.orders || [])]) {
      const key = order.number ?? order.id;
      if (key !== undefined && seen.has(key)) continue;
      seen.add(key);
      items.push(order);
    }
    items.push(...(history.calls || []));
    return items;
  }

  const DEADLINE = { dispatch: "转办", sign: "签收", handle: "办理", complete: "办结", reply: "答复",
                     revisit: "回访", feedback: "反馈" };

  function nextDeadline(order) {
    const due = (order.deadlines || []).filter((d) => !d.met_at)
      .sort((a, b) => String(a.due_at).localeCompare(String(b.due_at)))[0];
    if (!due) return "";
    return (DEADLINE[due.kind] || due.kind) + "时限：" + when(due.due_at) + (due.overdue ? "（已超期）" : "") +
      (due.provisional ? "（暂定）" : "");
  }

  function describe(item) {
    if (item === null || typeof item !== "object") return String(item);
    const parts = [];
    for (const [key, label] of HISTORY_FIELDS) {
      if (item[key] === undefined || item[key] === null || item[key] === "") continue;
      let value = item[key];
      if (LABELS[key]) value = LABELS[key][value] || value;
      else if (key.endsWith("_at")) value = when(value);
      parts.push(label ? label + "：" + value : String(value));
    }
    if (item.open === true) {
      parts.push("未办结");
      const deadline = nextDeadline(item);
      if (deadline) parts.push(deadline);
    }
    return parts.length ? parts.join("  ") : JSON.stringify(item);
  }

  function fillList(list, items, render, emptyText) {
    clear(list);
    if (!items.length) { list.appendChild(el("li", { className: "empty" }, emptyText || "暂无")); return; }
    for (const item of items) list.appendChild(render(item));
  }

  function kbItem(hit, onUse) {
    const id = hit.article_id ?? hit.id;
    const title = hit.title || hit.question || ("知识 #" + (id ?? ""));
    const snippet = hit.snippet || hit.summary || hit.answer || "";
    const li = el("li", { className: "kb-hit", dataset: { id: String(id ?? "") } },
      el("strong", {}, title), snippet ? el("div", { className: "snippet" }, snippet) : null);
    if (onUse) {
      const button = el("button", { type: "button", className: "btn-small" }, "引用");
      button.addEventListener("click", () => onUse(hit));
      li.appendChild(button);
    }
    return li;
  }

  const HANGUP = { ended: "已挂机", answered_elsewhere: "已由其他座席接听", ring_noanswer: "未接听" };
  const hangupText = (reason) => HANGUP[reason] || "已挂机";

  function show(event, onUseKb) {
    setText("pop-status", event.type === "pop.hangup" ? hangupText(event.reason) : (STATUS[event.type] || event.type));
    setText("pop-caller", event.caller_number);
    setText("pop-ivr", ivrPath(event.ivr));
    const category = event.ivr && event.ivr.category;
    setText("pop-category", category ? (CATEGORY[category] || category) : "");
    setText("pop-wait", waitText(event.wait_seconds));
    setText("pop-call-id", event.call_id);
    const historyList = document.getElementById("pop-history");
    fillList(historyList, historyItems(event.history), (item) => el("li", {}, describe(item)), "无历史记录");
    if (event.history && event.history.terminal_case) {  // 终结件: give the standard reply, no new dispatch
      historyList.insertBefore(el("li", { className: "terminal" },
        "终结件：" + (event.history.terminal_reply || "按终结件答复口径答复")), historyList.firstChild);
    }
    fillList(document.getElementById("pop-kb"), event.kb_hits || [], (hit) => kbItem(hit, onUseKb), "无推荐");
  }

  return { show, describe, historyItems, kbItem, fillList, waitText, ivrPath, when, hangupText, CATEGORY, STATUS };
})();
