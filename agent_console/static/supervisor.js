// 值班长: the `supervisors` stream (alerts, guard actions), shown as a log.
"use strict";

(() => {
  const { log, connect } = HotlineConsole;
  function describe(event) {
    const parts = [event.type || "事件"];
    for (const key of ["message", "queue", "agent_id", "caller_number", "reason"]) {
      if (event[key] !== undefined && event[key] !== null) parts.push(String(event[key]));
    }
    return parts.join("  ");
  }
  document.addEventListener("DOMContentLoaded", () => connect((event) => log(describe(event || {}))));
})();
