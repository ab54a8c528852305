// The shop's additions to Locust's web UI (loadtests/ui.py says why each exists).
//
// Locust's page is a React app; this script only decorates what it renders: it labels, orders,
// groups, shows and hides the start form's fields (it never renames a field or changes how
// the form is sent), keeps the hidden Host field on the Target's URL, shows a status line (from
// /shop/status) and adds notes and links to the Comparison tab (from /comparison.json).
// Everything it adds carries a "shop-" class or id, so it is easy to find, and to test.
(function () {
  "use strict";
  const args = window.templateArgs || {};
  const spec = args.shop_form || { groups: [], fields: [], urls: {} };
  const byName = Object.fromEntries(spec.fields.map((f) => [f.name, f]));
  const LOCUST_FIELDS = ["userCount", "spawnRate", "host"];   // decided by the Shape and the Target

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fieldOf(form, name) {
    const input = form.querySelector(`[name="${name}"]`);
    return input ? { input, box: input.closest(".MuiFormControl-root") || input.parentElement } : null;
  }

  function value(form, name, fallback) {
    const f = form.querySelector(`[name="${name}"]`);
    return f ? f.value : fallback;
  }

  function relabel(box, text) {
    const label = box.querySelector("label");
    if (label && label.firstChild && label.firstChild.nodeType === Node.TEXT_NODE) {
      if (label.firstChild.textContent !== text) label.firstChild.textContent = text;
    } else if (label && !label.dataset.shopLabel) {
      label.prepend(document.createTextNode(text));
    }
    if (label) label.dataset.shopLabel = text;
    const legend = box.querySelector("legend > span");   // the gap in the outline is sized by this text
    if (legend && legend.textContent !== text) legend.textContent = text;
  }

  // -- the start form --------------------------------------------------------------------------
  function enhanceForm(form) {
    const target = fieldOf(form, "target");
    if (!target) return;
    const container = target.box.parentElement;          // Locust's column of custom parameters
    const accordion = container.closest(".MuiAccordion-root");
    if (accordion && !accordion.dataset.shopOpened) {
      accordion.dataset.shopOpened = "1";
      const summary = accordion.querySelector(".MuiAccordionSummary-root");
      if (summary && summary.getAttribute("aria-expanded") === "false") summary.click();
      const title = summary && summary.querySelector("p");
      if (title) title.textContent = "Target, model, shape and sizes";
      accordion.classList.add("shop-parameters");
    }
    if (accordion) accordion.style.order = "-1";   // above Locust's "Advanced options" (the form is a flex column)
    container.classList.add("shop-fields");
    spec.groups.forEach((g) => {
      if (!container.querySelector(`.shop-heading[data-group="${g.key}"]`)) {
        const heading = el("div", { class: "shop-heading", "data-group": g.key }, g.title);
        heading.style.order = g.order;
        container.appendChild(heading);
      }
    });
    Array.from(container.children).forEach((child) => {
      const input = child.querySelector && child.querySelector("[name]");
      if (!input || child.classList.contains("shop-heading")) return;
      const f = byName[input.getAttribute("name")];
      if (!f) { child.dataset.shopUnlabelled = input.getAttribute("name"); return; }
      child.dataset.shopField = f.dest;
      child.style.order = f.order;
      relabel(child, f.label);
    });
    // Locust's own fields: the Shape decides the users, the Target decides the URL.
    LOCUST_FIELDS.forEach((name) => {
      const f = fieldOf(form, name);
      if (f) f.box.classList.add("shop-hidden");
    });
    if (!form.querySelector(".shop-note")) {
      const note = el("p", { class: "shop-note" });
      note.style.order = "-2";
      const first = form.querySelector("[name='userCount']");
      const anchor = first ? first.closest(".MuiFormControl-root") : null;
      (anchor && anchor.parentElement ? anchor.parentElement : form).prepend(note);
    }
    syncForm(form);
  }

  function syncForm(form) {
    const model = value(form, "model", "open");
    const shape = value(form, "shape", "spike");
    const target = value(form, "target", "monolith");
    form.querySelectorAll("[data-shop-field]").forEach((box) => {
      const f = spec.fields.find((x) => x.dest === box.dataset.shopField);
      const applies = f && f.models.includes(model) && f.shapes.includes(shape);
      box.classList.toggle("shop-hidden", !applies);
    });
    const sizes = form.querySelector('.shop-heading[data-group="sizes"]');
    if (sizes) sizes.textContent = `Sizes of the ${shape} (${model} model)`;
    const url = spec.urls[target] || "";
    const host = form.querySelector("[name='host']");
    if (host && host.value !== url) host.value = url;    // Locust's header shows the Host field's value
    const note = form.querySelector(".shop-note");
    const text = `The Shape decides the users and the arrival rate, so Locust's "Number of users" and ` +
      `"Ramp up" fields are not used; the Target decides the URL: ${target} at ${url}.`;
    if (note && note.textContent !== text) note.textContent = text;
  }

  document.addEventListener("change", (e) => {
    const form = e.target.closest && e.target.closest("form");
    if (form && form.querySelector("[name='target']")) syncForm(form);
  }, true);
  document.addEventListener("submit", (e) => {   // capture: runs before the page reads the fields
    if (e.target.querySelector && e.target.querySelector("[name='target']")) syncForm(e.target);
  }, true);

  // -- the status line -------------------------------------------------------------------------
  let status = null;
  function banner() {
    let node = document.getElementById("shop-status");
    if (!node) {
      node = el("div", { id: "shop-status", role: "status", "aria-live": "polite" });
      document.body.appendChild(node);
    }
    return node;
  }

  async function poll() {
    try {
      const r = await fetch("./shop/status", { cache: "no-store" });
      status = await r.json();
      const node = banner();
      node.dataset.phase = status.phase;
      if (node.textContent !== status.message) node.textContent = status.message;
      const header = document.querySelector("header");
      if (header && status.url && status.phase !== "idle") fixHeaderHost(header, status.url);
    } catch (err) {
      banner().dataset.phase = "unreachable";
    }
  }

  function fixHeaderHost(header, url) {
    // The header's "Host" shows what the form sent; after a reload or an edit it must still be
    // the URL the Target picked.
    const walker = document.createTreeWalker(header, NodeFilter.SHOW_TEXT);
    let node, afterHost = false;
    while ((node = walker.nextNode())) {
      const text = node.textContent.trim();
      if (afterHost && /^https?:\/\//.test(text)) {
        if (text !== url) node.textContent = url;
        return;
      }
      afterHost = text === "Host";
    }
  }

  // -- the comparison: the tab's notes, and saved runs under the start form ---------------------
  let comparison = null, comparisonAt = 0;
  async function comparisonData() {
    if (!comparison || Date.now() - comparisonAt > 3000) {
      comparisonAt = Date.now();
      try {
        comparison = await (await fetch("./comparison.json", { cache: "no-store" })).json();
      } catch (err) { /* keep the last one */ }
    }
    return comparison;
  }

  function notes(data, id) {
    const box = el("div", { id, class: "shop-comparison-notes" });
    const p = el("p");
    const link = el("a", { href: "." + data.link, id: `${id}-link` }, "Charts of these runs, and other runs to pick: /comparison");
    p.appendChild(link);
    box.appendChild(p);
    if (data.warnings.length) {
      const ul = el("ul", { class: "shop-warnings" });
      data.warnings.forEach((w) => ul.appendChild(el("li", {}, w)));
      box.appendChild(ul);
    }
    return box;
  }

  async function decorateComparisonTab() {
    const heads = Array.from(document.querySelectorAll("th")).filter((th) => th.textContent.trim() === args.shop_comparison_title);
    if (!heads.length) return;
    const table = heads[0].closest("table");
    const holder = table.closest(".MuiTableContainer-root") || table;
    const data = await comparisonData();
    if (!data) return;
    const old = document.getElementById("shop-tab-notes");
    const fresh = notes(data, "shop-tab-notes");
    if (old && old.innerHTML === fresh.innerHTML) return;
    if (old) old.remove();
    holder.parentElement.insertBefore(fresh, holder);
  }

  async function savedRunsPanel(form) {
    const data = await comparisonData();
    const old = document.getElementById("shop-saved");
    if (!data || !Object.keys(data.chosen).length) { if (old) old.remove(); return; }
    const box = el("section", { id: "shop-saved" });
    box.appendChild(el("h3", {}, "Saved runs: the comparison so far"));
    const table = el("table", { class: "shop-saved-table" });
    const head = el("tr");
    ["", "Monolith", "Microservices", "Ratio", "Better"].forEach((h) => head.appendChild(el("th", {}, h)));
    table.appendChild(head);
    data.rows.forEach((row) => {
      const tr = el("tr");
      [row.metric, row.monolith, row.microservices, row.ratio, row.better].forEach((c) => tr.appendChild(el("td", {}, String(c))));
      table.appendChild(tr);
    });
    box.appendChild(notes(data, "shop-saved-notes"));
    box.appendChild(table);
    if (old && old.innerHTML === box.innerHTML) return;
    if (old) old.remove();
    form.parentElement.appendChild(box);
  }

  // -- keeping it applied as the page re-renders -------------------------------------------------
  let scheduled = false;
  function apply() {
    scheduled = false;
    document.querySelectorAll("form").forEach((form) => {
      if (form.querySelector("[name='target']")) {
        enhanceForm(form);
        if (!form.closest(".MuiModal-root")) savedRunsPanel(form);
      }
    });
    if (!document.querySelector("form [name='target']")) {
      const old = document.getElementById("shop-saved");
      if (old) old.remove();
    }
    decorateComparisonTab();
  }
  new MutationObserver(() => {
    if (!scheduled) { scheduled = true; requestAnimationFrame(apply); }
  }).observe(document.documentElement, { childList: true, subtree: true });
  apply();
  poll();
  setInterval(poll, 1000);
})();
