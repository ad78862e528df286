// 系统管理: user list and creation; the supervisors stream arrives with numbers masked.
"use strict";

(() => {
  const { api, errorText, el, clear, log, setText, connect } = HotlineConsole;
  const ROLE = { agent: "话务员", expert: "专家座席", supervisor: "值班长", admin: "管理员" };

  async function load() {
    const result = await api("GET", "/api/console/users");
    const body = document.getElementById("users");
    clear(body);
    if (!result.ok) { body.appendChild(el("tr", {}, el("td", {}, errorText(result)))); return; }
    for (const u of result.data) {
      body.appendChild(el("tr", {}, el("td", {}, u.username), el("td", {}, ROLE[u.role] || u.role),
        el("td", {}, u.agent_id || "—"), el("td", {}, u.display_name || "—"), el("td", {}, u.active ? "启用" : "停用")));
    }
  }

  async function create(ev) {
    ev.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    const result = await api("POST", "/api/console/users", {
      username: value("new-username"), display_name: value("new-display") || null, role: value("new-role"),
      agent_id: value("new-agent-id") || null, password: document.getElementById("new-password").value,
    });
    setText("user-result", result.ok ? "已创建：" + result.data.username : "创建失败：" + errorText(result));
    if (result.ok) { document.getElementById("user-form").reset(); load(); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("user-form").addEventListener("submit", create);
    load();
    connect((event) => log(String((event && event.type) || "事件") + "  " + JSON.stringify(event)));
  });
})();
