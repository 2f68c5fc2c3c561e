// weir's status page: reads the JSON API every 2 s and redraws with DOM
// calls only (textContent, never innerHTML), so no name or address from
// the config can inject markup.
"use strict";

const REFRESH_MS = 2000;

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, v);
	for (const kid of kids)
		e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
	return e;
}

function num(v) {
	return v === undefined || v === null ? "-" : Number(v).toLocaleString("en-US");
}

function duration(s) {
	s = Math.floor(s);
	const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
	const m = Math.floor(s % 3600 / 60);
	if (d > 0) return d + "d " + h + "h";
	if (h > 0) return h + "h " + m + "m";
	if (m > 0) return m + "m " + (s % 60) + "s";
	return s + "s";
}

// One word per state, shown with its colour: never colour alone.
function serverState(s) {
	if (s.admin === "maint") return "maint";
	if (s.admin === "drain") return "draining";
	if (s.health === "down") return "down";
	if (s.ejected) return "ejected";
	return "up";
}

function cell(v, cls) {
	return el("td", cls ? { class: cls } : {}, v);
}

function serverRow(s) {
	const state = serverState(s);
	const r = s.responses || {};
	const name = el("td", {}, s.address);
	if (s.backup)
		name.append(el("span", { class: "backup" }, "backup"));
	return el("tr", { "data-server": s.address, "data-state": state },
	    name,
	    el("td", {}, el("span", { class: "state state-" + state }, state)),
	    cell(num(s.weight), "n"), cell(num(s.inflight), "n"),
	    cell(num(s.requests), "n"), cell(num(r["2xx"]), "n"),
	    cell(num(r["4xx"]), "n"), cell(num(r["5xx"]), "n"),
	    cell(num(s.failures), "n"), cell(s.last_check || "-"));
}

function backendSection(b) {
	const head = el("tr", {});
	for (const h of ["server", "state", "weight", "in flight", "requests",
	    "2xx", "4xx", "5xx", "failures", "last check"])
		head.append(el("th", ["server", "state", "last check"].includes(h) ?
		    {} : { class: "n" }, h));
	const body = el("tbody", {});
	for (const s of b.servers)
		body.append(serverRow(s));
	return el("section", { "data-backend": b.name },
	    el("h2", {}, "Backend " + b.name + " ", el("small", {}, b.balance)),
	    el("table", {}, el("thead", {}, head), body));
}

function drawStatus(st) {
	document.getElementById("version").textContent = st.version;
	document.getElementById("uptime").textContent = duration(st.uptime_seconds);
	document.getElementById("generation").textContent = st.generation;
	document.getElementById("workers").textContent = (st.workers || []).length;
	const r = st.last_reload;
	document.getElementById("reload").textContent = !r ? "none" :
	    r.result === "ok" ? "ok at " + r.time : "failed at " + r.time + ": " + r.error;
}

function drawFrontends(list) {
	const body = document.querySelector("#frontends tbody");
	body.replaceChildren(...list.map(f => el("tr", { "data-frontend": f.name },
	    cell(f.name), cell((f.listen || []).join(", ")),
	    cell(num(f.connections_active), "n"), cell(num(f.requests), "n"))));
}

function drawBackends(list) {
	document.getElementById("backends").replaceChildren(...list.map(backendSection));
}

async function getJSON(path) {
	const res = await fetch(path, { cache: "no-store" });
	if (!res.ok)
		throw new Error(path + ": HTTP " + res.status);
	return res.json();
}

async function refresh() {
	const problem = document.getElementById("problem");
	try {
		const [st, fes, bes] = await Promise.all([getJSON("/api/v1/status"),
		    getJSON("/api/v1/frontends"), getJSON("/api/v1/backends")]);
		drawStatus(st);
		drawFrontends(fes.frontends || fes);
		drawBackends(bes.backends || bes);
		document.getElementById("updated").textContent =
		    new Date().toISOString().replace(/\.\d+Z$/, "Z");
		problem.hidden = true;
	} catch (e) {
		problem.textContent = "cannot read weir's API (" + e.message + "); retrying";
		problem.hidden = false;
	}
	setTimeout(refresh, REFRESH_MS);
}

refresh();
