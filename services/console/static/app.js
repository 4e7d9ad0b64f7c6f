// OneStop console: the operators' and center leaders' views, refreshed by polling (no reload, no build step).
// The session is an HttpOnly cookie the page never sees; the CSRF token comes from /console/api/me and is
// kept in memory only. Every text is in STRINGS, one dictionary per language (Vietnamese by default).
"use strict";

const STRINGS = {
  vi: {
    skip: "Bỏ qua, đến nội dung chính", title: "OneStop — Bảng điều khiển", center: "Trung tâm", logout: "Đăng xuất",
    leader_view: "Lãnh đạo trung tâm", ops_view: "Vận hành", no_view: "Vai trò của bạn không có trang nào ở đây.",
    updated: "Cập nhật lúc", today: "Hôm nay", month: "Tháng này", received: "Hồ sơ tiếp nhận",
    result_ready: "Đã có kết quả", in_progress: "Đang giải quyết", on_time: "Đúng hạn", overdue: "Trễ hạn",
    on_time_rate: "Tỷ lệ đúng hạn", avg_days: "Thời gian xử lý TB (ngày làm việc)", supplement_rate: "Tỷ lệ yêu cầu bổ sung",
    avg_satisfaction: "Mức hài lòng TB (1–5)", ratings: "Lượt đánh giá", satisfaction: "Mức độ hài lòng (5 mức)",
    levels: ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"],
    indicators: "Chỉ số phục vụ (Quyết định 766/QĐ-TTg)", formula: "Công thức", unknown: "chưa có dữ liệu",
    ind_on_time_rate: "Tỷ lệ giải quyết đúng hạn", ind_satisfaction_rate: "Tỷ lệ hài lòng",
    ind_online_rate: "Tỷ lệ hồ sơ trực tuyến",
    departments: "Theo phòng chuyên môn", officers: "Theo chuyên viên", department: "Phòng", officer: "Chuyên viên",
    overdue_list: "Hồ sơ trễ hạn", due_soon_list: "Hồ sơ sắp đến hạn", code: "Mã hồ sơ", procedure: "Thủ tục",
    due_at: "Hạn", none: "Không có.", chart_daily: "Tiếp nhận và có kết quả theo ngày",
    chart_totals: "Tiếp nhận và có kết quả", chart_on_time: "Tỷ lệ đúng hạn theo phòng",
    queues: "Hàng đợi", service: "Dịch vụ", queue: "Hàng đợi", kind: "Loại", messages: "Tin nhắn",
    ready: "Sẵn sàng", unacked: "Đang xử lý", consumers: "Bộ xử lý", rate_in: "Vào/giây", rate_out: "Ra/giây",
    kinds: {work: "công việc", dlq: "thư chết", retry: "thử lại"},
    dead_letters: "Thư chết (dead letters)", no_dead_letters: "Không có thư chết.", reason: "Lý do",
    error: "Lỗi", type: "Loại sự kiện", subject: "Hồ sơ", dead_lettered_at: "Thời điểm", replay: "Phát lại",
    replayed: "Đã phát lại", replay_failed: "Phát lại không thành công",
    health: "Tình trạng dịch vụ", status: "Trạng thái", outbox: "Độ trễ outbox (giây)", breakers: "Cầu dao nhà cung cấp",
    held: "Tin nhắn bị giữ", no_held: "Không có tin nhắn bị giữ.", channel: "Kênh", recipient: "Người nhận",
    alerts: "Cảnh báo gần đây", no_alerts: "Không có cảnh báo.", alerts_off: "Chưa cấu hình dịch vụ cảnh báo (ALERTS_URL).",
    unreachable: "Không lấy được", state: "Trạng thái", raised_at: "Lúc", title_col: "Nội dung", runbook: "Cách xử lý",
    ok: "bình thường", unhealthy: "không ổn", signed_out: "Phiên đã hết, đang chuyển đến trang đăng nhập…",
  },
  en: {
    skip: "Skip to the main content", title: "OneStop — Console", center: "Center", logout: "Sign out",
    leader_view: "Center leader", ops_view: "Operations", no_view: "Your role has no view here.",
    updated: "Updated at", today: "Today", month: "This month", received: "Dossiers received",
    result_ready: "Results ready", in_progress: "In progress", on_time: "On time", overdue: "Overdue",
    on_time_rate: "On-time rate", avg_days: "Average processing time (working days)", supplement_rate: "Supplement rate",
    avg_satisfaction: "Average satisfaction (1–5)", ratings: "Ratings", satisfaction: "Satisfaction (five levels)",
    levels: ["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"],
    indicators: "Service indicators (Decision 766/QĐ-TTg)", formula: "Formula", unknown: "no data yet",
    ind_on_time_rate: "On-time processing rate", ind_satisfaction_rate: "Satisfaction rate",
    ind_online_rate: "Online-submission rate",
    departments: "Per department", officers: "Per officer", department: "Department", officer: "Officer",
    overdue_list: "Overdue dossiers", due_soon_list: "Dossiers due soon", code: "Code", procedure: "Procedure",
    due_at: "Due", none: "None.", chart_daily: "Received and ready per day",
    chart_totals: "Received and ready", chart_on_time: "On-time share per department",
    queues: "Queues", service: "Service", queue: "Queue", kind: "Kind", messages: "Messages",
    ready: "Ready", unacked: "Unacked", consumers: "Consumers", rate_in: "In/s", rate_out: "Out/s",
    kinds: {work: "work", dlq: "dead letters", retry: "retry"},
    dead_letters: "Dead letters", no_dead_letters: "No dead letters.", reason: "Reason",
    error: "Error", type: "Event type", subject: "Dossier", dead_lettered_at: "When", replay: "Replay",
    replayed: "Replayed", replay_failed: "Replay failed",
    health: "Service health", status: "Status", outbox: "Outbox lag (s)", breakers: "Provider breakers",
    held: "Held messages", no_held: "No held messages.", channel: "Channel", recipient: "Recipient",
    alerts: "Recent alerts", no_alerts: "No alerts.", alerts_off: "The alerts service is not configured (ALERTS_URL).",
    unreachable: "Could not read", state: "State", raised_at: "Raised", title_col: "What", runbook: "What to do",
    ok: "ok", unhealthy: "unhealthy", signed_out: "The session has ended; to the sign-in page…",
  },
};

const state = {lang: localStorage.getItem("onestop_lang") === "en" ? "en" : "vi", me: null, csrf: null,
               center: null, timer: null, shown: {}, last: {}};
const t = (key) => STRINGS[state.lang][key] ?? key;
const $ = (id) => document.getElementById(id);

// Elements from data, never from HTML strings: nothing a service answers can become markup.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

const fmt = (n, digits = 0) => n === null || n === undefined ? "—"
  : new Intl.NumberFormat(state.lang, {maximumFractionDigits: digits}).format(n);
const pct = (x) => x === null || x === undefined ? "—"
  : new Intl.NumberFormat(state.lang, {style: "percent", maximumFractionDigits: 1}).format(x);
const when = (iso) => iso ? new Date(iso).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB") : "—";

function table(caption, headers, rows) {
  return h("div", {class: "scroll", role: "region", "aria-label": caption, tabindex: "0"},
    h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", {scope: "col"}, x)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))));
}

function say(text) { $("live").textContent = text; }

async function api(path, options = {}) {
  const headers = {...(options.headers || {})};
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  const response = await fetch(path, {credentials: "same-origin", ...options, headers});
  if (response.status === 401) {
    say(t("signed_out"));
    location.assign("/console/login");
    throw new Error("signed out");
  }
  return response;
}

// --- the center leader's view ---------------------------------------------------------------

function card(label, value, id) { return h("div", {class: "card", "data-figure": id}, h("span", {class: "label"}, label), h("strong", {}, value)); }

function figures(totals, prefix) {
  const tt = totals || {};
  const rate = tt.result_ready ? tt.on_time / tt.result_ready : null;
  return [card(t("received"), fmt(tt.received), `${prefix}-received`),
          card(t("result_ready"), fmt(tt.result_ready), `${prefix}-result_ready`),
          card(t("in_progress"), fmt(tt.in_progress), `${prefix}-in_progress`),
          card(t("on_time_rate"), pct(rate), `${prefix}-on_time_rate`),
          card(t("overdue"), fmt(tt.overdue), `${prefix}-overdue`),
          card(t("avg_days"), fmt(tt.avg_processing_working_days, 2), `${prefix}-avg_days`),
          card(t("supplement_rate"), pct(tt.supplement_rate), `${prefix}-supplement_rate`),
          card(t("avg_satisfaction"), fmt(tt.avg_satisfaction, 2), `${prefix}-avg_satisfaction`)];
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Grouped bars: one group per label, one bar per series; the numbers are in the table beside it too.
function bars(title, labels, series, max) {
  const width = 640, height = 220, pad = 30, groupW = (width - pad * 2) / Math.max(labels.length, 1);
  const top = max || Math.max(1, ...series.flatMap((x) => x.values));
  const svg = s("svg", {viewBox: `0 0 ${width} ${height + 40}`, role: "img", "aria-label": title, class: "chart"},
                s("title", {}, title));
  labels.forEach((label, i) => {
    series.forEach((x, j) => {
      const v = x.values[i] || 0, bw = (groupW - 10) / series.length, bh = (v / top) * height;
      svg.append(s("rect", {x: pad + i * groupW + j * bw, y: height - bh + 10, width: Math.max(bw - 2, 1),
                            height: bh, class: `series${j}`}, s("title", {}, `${label} — ${x.name}: ${x.shown(v)}`)));
    });
    svg.append(s("text", {x: pad + i * groupW + groupW / 2 - 5, y: height + 28, "text-anchor": "middle",
                          class: "axis"}, label));
  });
  const legend = h("p", {class: "legend"}, series.map((x, j) => h("span", {class: `key series${j}`}, x.name)));
  return h("figure", {}, h("figcaption", {}, title), svg, legend);
}

function leaderCharts(data) {
  const month = data.month || {}, daily = month.daily;
  const out = [];
  if (daily && daily.length) {
    out.push(bars(t("chart_daily"), daily.map((d) => d.date.slice(8)),
      [{name: t("received"), values: daily.map((d) => d.received), shown: fmt},
       {name: t("result_ready"), values: daily.map((d) => d.result_ready), shown: fmt}]));
  } else {
    const day = (data.day || {}).totals || {}, mon = month.totals || {};
    out.push(bars(t("chart_totals"), [t("today"), t("month")],
      [{name: t("received"), values: [day.received || 0, mon.received || 0], shown: fmt},
       {name: t("result_ready"), values: [day.result_ready || 0, mon.result_ready || 0], shown: fmt}]));
  }
  const deps = (month.departments || []);
  if (deps.length) {
    out.push(bars(t("chart_on_time"), deps.map((d) => d.department_id),
      [{name: t("on_time_rate"), values: deps.map((d) => d.result_ready ? d.on_time / d.result_ready : 0), shown: pct}], 1));
  }
  return h("div", {class: "charts"}, out);
}

function indicators(list) {
  return h("div", {class: "indicators"}, h("h3", {}, t("indicators")), h("dl", {}, list.flatMap((i) => [
    h("dt", {"data-indicator": i.id}, t(`ind_${i.id}`), ": ", h("strong", {}, i.value === null ? t("unknown") : pct(i.value)),
      i.denominator ? ` (${fmt(i.numerator)}/${fmt(i.denominator)})` : ""),
    h("dd", {}, `${t("formula")}: ${state.lang === "vi" ? i.formula_vi : i.formula_en}`)])));
}

function levels(month) {
  const lv = month.satisfaction_levels;
  if (!lv) return null;
  return table(t("satisfaction"), [t("satisfaction"), t("ratings")],
               [1, 2, 3, 4, 5].map((n) => [`${n} — ${t("levels")[n - 1]}`, fmt(lv[String(n)] || 0)]));
}

function dossierList(title, list) {
  if (!list) return null;
  if (!list.length) return h("div", {}, h("h3", {}, title), h("p", {}, t("none")));
  return table(title, [t("code"), t("procedure"), t("department"), t("officer"), t("due_at")],
               list.map((d) => [d.code, d.procedure_code, d.department_id, d.officer_name || d.officer_id || "—", when(d.due_at)]));
}

function perGroup(title, rows, key, name) {
  return table(title, [name, t("received"), t("result_ready"), t("on_time"), t("overdue"), t("on_time_rate"), t("avg_days"),
                       t("supplement_rate"), t("avg_satisfaction")],
    (rows || []).map((r) => [r[key], fmt(r.received), fmt(r.result_ready), fmt(r.on_time), fmt(r.overdue),
                             pct(r.result_ready ? r.on_time / r.result_ready : null), fmt(r.avg_processing_working_days, 2),
                             pct(r.supplement_rate), fmt(r.avg_satisfaction, 2)]));
}

function renderLeader(data) {
  const month = data.month || {};
  const parts = [];
  for (const [err, label] of [[data.day_error, t("today")], [data.month_error, t("month")]]) {
    if (err) parts.push(h("p", {class: "problem"}, `${t("unreachable")} (${label}): ${err}`));
  }
  parts.push(h("h3", {}, t("today")), h("div", {class: "cards", id: "today"}, figures((data.day || {}).totals, "today")));
  parts.push(h("h3", {}, t("month"), month.from ? ` (${month.from} – ${month.to})` : ""),
             h("div", {class: "cards", id: "month"}, figures(month.totals, "month")));
  parts.push(leaderCharts(data), indicators(data.indicators || []), levels(month),
             dossierList(t("overdue_list"), month.overdue_list), dossierList(t("due_soon_list"), month.due_soon_list),
             perGroup(t("departments"), month.departments, "department_id", t("department")),
             perGroup(t("officers"), (month.officers || []).map((o) => ({...o, who: o.officer_name || o.officer_id})),
                      "who", t("officer")));
  return parts;
}

// --- the operators' view -------------------------------------------------------------------------

function problem(source) { return h("p", {class: "problem"}, `${t("unreachable")}: ${source.error}`); }

function renderQueues(q) {
  if (q.error) return [h("h3", {}, t("queues")), problem(q)];
  // Retry queues only while they hold something: a center has a dozen of them, nearly always empty.
  return [table(t("queues"), [t("service"), t("queue"), t("kind"), t("messages"), t("ready"), t("unacked"),
                               t("consumers"), t("rate_in"), t("rate_out")],
    q.rows.filter((r) => r.kind !== "retry" || r.messages).map((r) => [r.service, r.queue, t("kinds")[r.kind] || r.kind, fmt(r.messages), fmt(r.ready), fmt(r.unacked),
                       fmt(r.consumers), fmt(r.publish_rate, 2), fmt(r.deliver_rate, 2)]))];
}

async function replay(queue, letter, button) {
  button.disabled = true;
  const response = await api("/console/api/deadletters/replay", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({queue, ids: [letter.id]})});
  const body = await response.json().catch(() => ({}));
  if (response.ok && (body.replayed || []).includes(letter.id)) say(`${t("replayed")}: ${letter.subject || letter.id}`);
  else { say(`${t("replay_failed")}: ${body.message || (body.skipped || []).map((x) => x.why).join("; ") || response.status}`); button.disabled = false; }
  refresh(true);
}

function renderDeadLetters(d) {
  const out = [h("h3", {}, t("dead_letters"))];
  if (d.error) return [...out, problem(d)];
  if (!d.queues.length) return [...out, h("p", {}, t("no_dead_letters"))];
  for (const q of d.queues) {
    // The button first: on a phone the table scrolls sideways, and the action must not be off-screen.
    out.push(table(`${q.queue} (${fmt(q.messages)})`, ["", t("subject"), t("type"), t("reason"), t("error"), t("dead_lettered_at")],
      q.letters.map((x) => [x.replayable ? h("button", {type: "button", class: "replay", "data-letter": x.id,
                                                         "aria-label": `${t("replay")} ${x.subject || x.id}`,
                                                         on: {click: (ev) => replay(q.queue, x, ev.currentTarget)}}, t("replay")) : "—",
        x.subject || "—", x.event_type || "—", x.reason, x.error || "—", when(x.dead_lettered_at)])));
  }
  return out;
}

function renderHealth(health) {
  return [table(t("health"), [t("service"), t("status"), t("outbox"), t("breakers")],
    Object.entries(health).map(([name, x]) => [name, x.error ? `${t("unreachable")}: ${x.error}` : t(x.status),
      x.outbox_lag_seconds === undefined ? "—" : fmt(x.outbox_lag_seconds, 1),
      x.providers ? Object.entries(x.providers).map(([p, b]) => `${p}: ${b.state || JSON.stringify(b)}`).join(", ") : "—"]))];
}

function renderHeld(held) {
  const out = [h("h3", {}, t("held"))];
  if (held.error) return [...out, problem(held)];
  if (!held.held.length) return [...out, h("p", {}, t("no_held"))];
  return [table(t("held"), [t("subject"), t("channel"), t("recipient"), t("reason"), t("dead_lettered_at")],
    held.held.map((x) => [x.code, x.channel, x.recipient, x.reason_text, when(x.held_at)]))];
}

function renderAlerts(alerts) {
  const out = [h("h3", {}, t("alerts"))];
  if (alerts.error === "not_configured") return [...out, h("p", {}, t("alerts_off"))];
  if (alerts.error) return [...out, problem(alerts)];
  if (!alerts.alerts.length) return [...out, h("p", {}, t("no_alerts"))];
  return [table(t("alerts"), [t("state"), t("title_col"), t("raised_at"), t("runbook")],
    alerts.alerts.map((a) => [a.state, a.title, when(a.raised_at), a.runbook || "—"]))];
}

// Each part is redrawn only when its data changed, so a focused button keeps its focus between polls.
function draw(container, parts) {
  for (const [key, data, render] of parts) {
    const sig = state.lang + JSON.stringify(data);
    let box = container.querySelector(`[data-part="${key}"]`);
    if (!box) { box = h("div", {"data-part": key}); container.append(box); }
    if (state.shown[key] === sig) continue;
    state.shown[key] = sig;
    box.replaceChildren(...render(data).filter(Boolean));
  }
}

function opsParts(data) {
  return [["deadletters", data.dead_letters, renderDeadLetters], ["queues", data.queues, renderQueues],
          ["health", data.health, renderHealth], ["held", data.held, renderHeld], ["alerts", data.alerts, renderAlerts]];
}

// --- the page ---------------------------------------------------------------------------------------

async function refresh(now) {
  const center = encodeURIComponent(state.center);
  try {
    if (state.me.views.includes("leader")) {
      const data = await (await api(`/console/api/leader?center=${center}`)).json();
      state.last.leader = data;
      draw($("leader-body"), [["leader", data, renderLeader]]);
    }
    if (state.me.views.includes("ops")) {
      const data = await (await api(`/console/api/ops?center=${center}`)).json();
      state.last.ops = data;
      draw($("ops-body"), opsParts(data));
    }
    document.body.dataset.updated = String(Date.now());
    if (!now) say(`${t("updated")} ${new Date().toLocaleTimeString(state.lang === "vi" ? "vi-VN" : "en-GB")}`);
  } catch (err) {
    if (err.message !== "signed out") say(`${t("unreachable")}: ${err.message}`);
  }
}

function translate() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.title = t("title");
  const other = state.lang === "vi" ? "en" : "vi";
  $("lang").textContent = other === "en" ? "English" : "Tiếng Việt";
  $("lang").lang = other;
  state.shown = {};
  say("");
  if (state.last.leader) draw($("leader-body"), [["leader", state.last.leader, renderLeader]]);
  if (state.last.ops) draw($("ops-body"), opsParts(state.last.ops));
}

async function boot() {
  const me = await (await api("/console/api/me")).json();
  state.me = me;
  state.csrf = me.csrf;
  state.center = me.centers[0];
  $("who").textContent = `${me.name} · ${me.role}${me.department ? ` · ${me.department}` : ""}`;
  $("center").replaceChildren(...me.centers.map((c) => h("option", {value: c}, c)));
  $("center").addEventListener("change", (ev) => { state.center = ev.target.value; state.shown = {}; refresh(true); });
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "vi" ? "en" : "vi";
    localStorage.setItem("onestop_lang", state.lang);  // a preference, never a credential
    translate();
  });
  $("logout").addEventListener("click", async () => {
    const response = await api("/console/logout", {method: "POST"});
    const body = await response.clone().json().catch(() => ({}));
    if (response.ok) location.assign(body.next || "/console/login?error=signed_out");
    else say(`${t("logout")}: ${(await response.json().catch(() => ({}))).message || response.status}`);
  });
  $("leader").hidden = !me.views.includes("leader");
  $("ops").hidden = !me.views.includes("ops");
  $("noview").hidden = me.views.length > 0;
  translate();
  await refresh(true);
  state.timer = setInterval(() => refresh(false), me.poll_seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => boot().catch((err) => say(err.message)));
