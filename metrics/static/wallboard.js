// 看板: live figures over the websocket /ws/wallboard. Text only through textContent (no markup from data).
(function () {
  "use strict";

  const STATE_LABELS = { ready: "示闲", not_ready: "示忙", ringing: "振铃", on_call: "通话中", wrap_up: "话后整理",
                         three_way: "三方通话", logged_out: "未登录" };
  const SKILL_LABELS = { general: "综合受理", consumer: "消费投诉", economic: "经济违法举报", efficiency: "行政效能",
                         business: "涉企服务", dialect: "方言", overflow: "溢出后备", expert: "专家座席", unknown: "—" };
  const BAND_NOTES = { green: "达标", amber: "低于95%", red: "低于90%，紧急", none: "暂无呼入" };
  const SVG = "http://www.w3.org/2000/svg";
  let snapshot = null;
  let offset = 0; // server clock minus ours, so times in state tick on between snapshots

  const $ = (id) => document.getElementById(id);
  const pct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");
  function mmss(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
  }
  function hhmm(epoch) {
    const d = new Date(epoch * 1000);
    return d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "Asia/Shanghai" });
  }
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function setBand(node, band) {
    node.classList.remove("band-green", "band-amber", "band-red", "band-none");
    node.classList.add("band-" + band);
    node.dataset.band = band;
  }

  function renderTiles(s) {
    $("wb-day").textContent = s.day;
    $("wb-waiting").textContent = String(s.waiting);
    $("wb-longest").textContent = mmss(s.longest_wait);
    $("wb-rate").textContent = pct(s.total.answer_rate);
    $("wb-rate-note").textContent = BAND_NOTES[s.total.band];
    setBand($("wb-rate-tile"), s.total.band);
    $("wb-sl").textContent = pct(s.total.service_level);
    $("wb-offered").textContent = String(s.total.offered);
    $("wb-answered").textContent = String(s.total.answered);
    $("wb-abandoned").textContent = String(s.total.abandoned + s.total.unanswered);
    $("wb-asa").textContent = s.total.asa === null ? "–" : s.total.asa.toFixed(1) + "秒";
    $("wb-expert-rate").textContent = pct(s.experts.answer_rate);
    $("wb-expert-note").textContent = BAND_NOTES[s.experts.band];
    setBand($("wb-expert-tile"), s.experts.band);
    const orders = s.orders || {};
    $("wb-orders-today").textContent = orders.refreshed_at ? String(orders.today) : "–";
    $("wb-orders-overdue").textContent = orders.refreshed_at ? String(orders.overdue) : "–";
    $("wb-orders-overdue").classList.toggle("overdue", orders.overdue > 0);
    $("wb-kb-rate").textContent = pct(orders.kb_one_time_rate);
    $("wb-satisfied").textContent = pct(orders.satisfied_rate);
    const link = $("wb-link");
    link.className = "pill " + (s.ami_link_up === 1 ? "pill-green" : s.ami_link_up === 0 ? "pill-red" : "pill-none");
    link.textContent = s.ami_link_up === 1 ? "AMI 正常" : s.ami_link_up === 0 ? "AMI 断开" : "AMI 未知";
  }

  function renderQueues(s) {
    const body = $("wb-queues").tBodies[0];
    const rows = s.queues.map((q) => {
      const tr = el("tr");
      tr.dataset.queue = q.queue;
      const cells = [q.queue, SKILL_LABELS[q.skill] || q.skill, String(q.waiting), mmss(q.longest_wait),
                     String(q.offered), String(q.answered), String(q.abandoned + q.unanswered), pct(q.answer_rate),
                     pct(q.service_level), q.asa === null ? "–" : q.asa.toFixed(1)];
      cells.forEach((text, i) => tr.appendChild(el("td", i >= 2 ? "num" : "", text)));
      tr.children[7].classList.add("band-" + q.band);
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function renderAgents(s) {
    const now = Date.now() / 1000 + offset;
    const cards = s.agents.map((a) => {
      const card = el("div", `agent st-${a.state}` + (a.group === "expert" ? " expert" : ""));
      card.dataset.agent = a.agent_id;
      card.dataset.since = String(a.since);
      card.appendChild(el("div", "name", a.name));
      card.appendChild(el("div", "state", STATE_LABELS[a.state] || a.state));
      card.appendChild(el("div", "time", mmss(now - a.since)));
      card.appendChild(el("div", "reason", a.state === "not_ready" || a.state === "wrap_up" ? a.reason : ""));
      return card;
    });
    $("wb-agents").replaceChildren(...cards);
    const counts = {};
    s.agents.forEach((a) => { counts[a.state] = (counts[a.state] || 0) + 1; });
    $("wb-agent-summary").textContent = Object.keys(STATE_LABELS).filter((k) => counts[k])
      .map((k) => `${STATE_LABELS[k]} ${counts[k]}`).join("　");
  }

  function renderChart(s) {
    const W = 900, H = 300, L = 60, R = 20, T = 15, B = 35;
    // the axis shows 80–100 % (where the decisions are), lower only when the day went lower
    const rates = s.curve.filter((p) => p.rate !== null).map((p) => p.rate);
    const lo = Math.min(0.8, Math.floor(Math.min(1, ...rates) * 10) / 10);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    const dayStart = Date.parse(s.day + "T00:00:00+08:00") / 1000;
    const x = (t) => L + ((t - dayStart) / 86400) * (W - L - R);
    const y = (r) => T + (1 - (Math.max(lo, Math.min(1, r)) - lo) / (1 - lo)) * (H - T - B);
    const line = (cls, x1, y1, x2, y2) => {
      const n = document.createElementNS(SVG, "line");
      n.setAttribute("class", cls);
      [["x1", x1], ["y1", y1], ["x2", x2], ["y2", y2]].forEach(([k, v]) => n.setAttribute(k, String(v)));
      svg.appendChild(n);
    };
    const text = (x0, y0, t, anchor) => {
      const n = document.createElementNS(SVG, "text");
      n.setAttribute("x", String(x0));
      n.setAttribute("y", String(y0));
      if (anchor) n.setAttribute("text-anchor", anchor);
      n.textContent = t;
      svg.appendChild(n);
    };
    line("axis", L, T, L, H - B);
    line("axis", L, H - B, W - R, H - B);
    line("target", L, y(s.target), W - R, y(s.target));
    line("floor", L, y(s.amber_floor), W - R, y(s.amber_floor));
    [lo, 0.9, 0.95, 1].forEach((r) => text(L - 6, y(r) + 6, Math.round(r * 100) + "%", "end"));
    [0, 6, 12, 18, 24].forEach((h) => text(x(dayStart + h * 3600), H - 10, h + "时", "middle"));
    const points = s.curve.filter((p) => p.rate !== null).map((p) => `${x(p.t).toFixed(1)},${y(p.rate).toFixed(1)}`);
    const curve = document.createElementNS(SVG, "polyline");
    curve.setAttribute("class", "curve");
    curve.setAttribute("points", points.join(" "));
    curve.dataset.points = String(points.length);
    svg.appendChild(curve);
    $("wb-chart").replaceChildren(svg);
  }

  function describe(e) {
    const q = e.queue ? `队列 ${e.queue}` : "";
    const value = typeof e.value === "number" ? `（${(e.value * 100).toFixed(1)}%）` : "";
    if (typeof e.type !== "string") return ["", "未知事件"];
    if (e.type.startsWith("guard.")) {
      const action = e.type.slice(6);
      const off = action.endsWith("_off");
      const what = { alert: "告警", overflow: "启用溢出座席", callback_offer: "开启回拨" }[action.replace(/_off$/, "")] || action;
      return [off ? "green" : "amber", `接通率守护：${q} ${off ? "撤销" : ""}${what}${value}`];
    }
    if (e.type === "order.overdue") return ["red", `红牌督办：工单 ${e.number || ""} 已超期`];
    if (e.type === "order.near_due") return ["amber", `黄牌警示：工单 ${e.number || ""} 临近时限`];
    if (e.type === "acd.wrap_up_overdue") return ["amber", `话后整理超时：座席 ${e.agent_id || ""}`];
    if (e.type.startsWith("callback.")) return ["", `回拨 ${e.type.slice(9)} ${q}`];
    return ["", e.type];
  }

  const alertKey = (e) => [e.type, e.ts, e.queue, e.number, e.agent_id].join("|");

  function alertItem(e) {
    const [severity, text] = describe(e);
    const li = el("li", severity ? "sev-" + severity : "");
    li.dataset.type = String(e.type);
    li.dataset.key = alertKey(e);
    li.appendChild(el("span", "at", e.ts ? hhmm(e.ts) : ""));
    li.appendChild(document.createTextNode(text));
    return li;
  }

  function renderAlerts(s) {
    $("wb-alerts").replaceChildren(...s.alerts.slice(0, 12).map(alertItem));
  }

  function render(s) {
    snapshot = s;
    offset = s.now - Date.now() / 1000;
    renderTiles(s);
    renderQueues(s);
    renderAgents(s);
    renderChart(s);
    renderAlerts(s);
    document.body.dataset.updated = String(s.now);
  }

  function tick() {
    const now = Date.now() / 1000 + offset;
    $("wb-clock").textContent = new Date(now * 1000).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    document.querySelectorAll("#wb-agents .agent").forEach((card) => {
      card.querySelector(".time").textContent = mmss(now - Number(card.dataset.since));
    });
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/wallboard");
    const status = $("wb-status");
    ws.onopen = () => { status.className = "pill pill-green"; status.textContent = "已连接"; };
    ws.onmessage = (msg) => {
      const data = JSON.parse(msg.data);
      if (data.type === "snapshot") render(data.data);
      else if (data.type === "alert") {
        const list = $("wb-alerts");
        const key = alertKey(data.event);
        if ([...list.children].some((li) => li.dataset.key === key)) return; // already in the snapshot
        list.insertBefore(alertItem(data.event), list.firstChild);
        while (list.children.length > 12) list.removeChild(list.lastChild);
      }
    };
    ws.onclose = () => {
      status.className = "pill pill-red";
      status.textContent = "未连接";
      setTimeout(connect, 2000);
    };
  }

  setInterval(tick, 1000);
  connect();
  window.__wallboard = () => snapshot;
})();
