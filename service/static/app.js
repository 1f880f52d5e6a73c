// citeqa page: asks POST /ask (always as a stream: in LLM mode verified sentences
// arrive one by one; in extractive mode only the final `done` event comes), renders
// verified quotes, and opens each quote in its article with the span highlighted by
// its offsets (never by text search).
"use strict";

const $ = (id) => document.getElementById(id);
let lastResponse = null;

// Offsets from the API count Unicode code points (Python str indices); JS
// strings index UTF-16 units, so slice over code points.
function codePoints(text) { return Array.from(text); }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function setBusy(busy, text = "") {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("busy", busy);
  $("ask-button").disabled = busy;
  $("result").setAttribute("aria-busy", busy ? "true" : "false");
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function describeError(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const field = (d.loc || []).filter((p) => p !== "body").join(".");
      return field ? `${field}: ${d.msg}` : d.msg;
    }).join("; ");
  }
  if (typeof detail === "string") return detail;
  return `The service answered ${status}.`;
}

function quoteText(quote, short) {
  // The quote's full text, with the short answer emphasised when it lies inside.
  const bq = el("blockquote");
  if (short && short.doc_id === quote.doc_id && short.start >= quote.start && short.end <= quote.end) {
    const cps = codePoints(quote.text);
    const a = short.start - quote.start, b = short.end - quote.start;
    bq.append(cps.slice(0, a).join(""), el("mark", { class: "short-in-quote" }, cps.slice(a, b).join("")),
      cps.slice(b).join(""));
  } else {
    bq.append(quote.text);
  }
  return bq;
}

function renderAnswer(data, elapsedMs) {
  lastResponse = data;
  const answer = $("answer");
  answer.replaceChildren();
  answer.classList.toggle("abstained", data.abstained);
  if (data.abstained) {
    answer.append("The indexed articles don't answer this. ",
      el("span", { class: "confidence" }, `(confidence ${data.confidence.toFixed(2)})`));
  } else if (data.mode === "llm") {
    // The LLM's words; each [n] is a verified quote below and opens it in its article.
    for (const part of data.answer.split(/(\[\d+\])/)) {
      const n = /^\[(\d+)\]$/.exec(part);
      const q = n && data.quotes[Number(n[1]) - 1];
      if (!q) { answer.append(part); continue; }
      const link = el("button", { type: "button", class: "cite", "aria-label": `Quote ${n[1]}: open in the article` },
        part);
      link.addEventListener("click", () => openArticle(q.doc_id, Number(n[1]) - 1));
      answer.append(link);
    }
    answer.append(" ", el("span", { class: "confidence" }, "(written by the LLM; every [n] is a verified quote)"));
  } else {
    if (data.short_answer) answer.append("Answer: ", el("strong", { class: "short" }, data.short_answer.text), " ");
    else answer.append("Answer, in the articles' words: ");
    answer.append(el("span", { class: "confidence" }, `(confidence ${data.confidence.toFixed(2)})`));
  }
  if (data.as_of) answer.append(" ", el("span", { class: "as-of" }, `as of ${data.as_of}`));
  // The answer options read from the question ("A) … B) …"): the answer is read as one of them.
  const options = data.options || [];
  $("options").hidden = options.length === 0;
  $("options").textContent = options.length ? `Options read from the question: ${options.join(" · ")}` : "";
  $("superseded").hidden = !data.superseded;
  const quotes = $("quotes");
  quotes.replaceChildren();
  data.quotes.forEach((q, i) => {
    const card = el("button", { type: "button", class: "quote-card", dataset: { index: String(i) },
      "aria-label": `Quote ${i + 1} from ${q.title}, ${q.published ? "published " + q.published : "undated"}, ` +
        `characters ${q.start} to ${q.end}: open in the article` },
      data.mode === "llm" ? el("span", { class: "quote-number" }, `[${i + 1}]`) : "",
      data.superseded ? el("span", { class: "quote-rank" }, i === 0 ? "newest" : "older") : "",
      quoteText(q, data.short_answer),
      el("span", { class: "quote-source" },
        el("span", { class: "quote-date" }, q.published || "undated"), ` · ${q.title} — ${q.doc_id} [${q.start}:${q.end}]`));
    card.addEventListener("click", () => openArticle(q.doc_id, i));
    quotes.append(el("li", {}, card));
  });
  const passages = $("passages");
  passages.replaceChildren();
  for (const p of data.passages) {
    passages.append(el("li", {}, el("span", { class: "score" }, p.score.toFixed(3)), " ",
      el("strong", {}, p.title), ` (${p.published || "undated"}) — ${p.doc_id} [${p.start}:${p.end}]: `, p.text));
  }
  $("passages-box").open = data.abstained && data.passages.length > 0;
  $("passages-box").querySelector("summary").textContent =
    data.abstained ? `Closest passages (${data.passages.length})` : `Retrieved passages (${data.passages.length})`;
  $("timing").textContent = `Answered in ${Math.round(elapsedMs)} ms.`;
  $("result").hidden = false;
}

async function openArticle(docId, focusIndex) {
  const box = $("article");
  try {
    const r = await fetch("/documents/" + encodeURIComponent(docId));
    const body = await r.json().catch(() => null);
    if (!r.ok) { showError(describeError(r.status, body)); return; }
    const cps = codePoints(body.text);
    const spans = lastResponse.quotes
      .map((q, i) => ({ ...q, index: i }))
      .filter((q) => q.doc_id === docId)
      .sort((a, b) => a.start - b.start);
    const target = $("article-text");
    target.replaceChildren();
    let pos = 0;
    let current = null;
    for (const s of spans) {
      if (s.start < pos) continue; // overlapping quotes: the first one is shown
      target.append(cps.slice(pos, s.start).join(""));
      const mark = el("mark", { dataset: { quote: String(s.index) } }, cps.slice(s.start, s.end).join(""));
      if (s.index === focusIndex) { mark.classList.add("current"); current = mark; }
      target.append(mark);
      pos = s.end;
    }
    target.append(cps.slice(pos).join(""));
    $("article-title").textContent = body.title || body.doc_id;
    $("article-meta").textContent = [body.doc_id, body.published, body.url].filter(Boolean).join(" · ");
    box.hidden = false;
    (current || target).scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  } catch (err) {
    showError("Could not reach the citeqa service to open the article.");
  }
}

// Server-sent events from a fetch body: yields {kind, data} per complete event.
async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const kind = /^event: (.*)$/m.exec(block);
      const data = /^data: (.*)$/m.exec(block);
      if (kind && data) yield { kind: kind[1], data: JSON.parse(data[1]) };
    }
    if (done) return;
  }
}

// While the LLM writes: each verified sentence and quote as it arrives. The `done`
// body then replaces all of it (it is the final word, and may be the extractive answer).
function showLive() {
  const answer = $("answer");
  const quotes = $("quotes");
  answer.replaceChildren();
  answer.classList.remove("abstained");
  answer.classList.add("live");
  quotes.replaceChildren();
  $("passages").replaceChildren();
  $("superseded").hidden = true;
  $("options").hidden = true;
  $("timing").textContent = "";
  const live = { quotes: [] };
  live.sentence = (text) => {
    if (answer.childNodes.length) answer.append(" ");
    answer.append(el("span", { class: "live-sentence" }, text));
    $("result").hidden = false;
  };
  live.quote = (q) => {
    live.quotes.push(q);
    quotes.append(el("li", {}, el("div", { class: "quote-card pending" },
      el("span", { class: "quote-number" }, `[${live.quotes.length}]`), el("blockquote", {}, q.text),
      el("span", { class: "quote-source" }, `${q.published || "undated"} · ${q.title}`))));
  };
  return live;
}

async function ask(question) {
  $("error").hidden = true;
  $("article").hidden = true;
  $("result").hidden = true;
  const asOf = $("as-of").value;
  const url = new URL(window.location.href);
  url.searchParams.set("q", question);
  if (asOf) url.searchParams.set("as_of", asOf); else url.searchParams.delete("as_of");
  window.history.replaceState(null, "", url);
  setBusy(true, "Searching the articles…");
  const started = performance.now();
  try {
    const payload = asOf ? { question, as_of: asOf, stream: true } : { question, stream: true };
    const r = await fetch("/ask", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(payload) });
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      setBusy(false);
      showError(describeError(r.status, body));
      return;
    }
    let live = null;
    let final = null;
    for await (const event of sseEvents(r.body)) {
      if (event.kind === "done") { final = event.data; break; }
      if (!live) { live = showLive(); setBusy(true, "Writing the answer; each sentence shows once its quotes verify…"); }
      if (event.kind === "sentence") live.sentence(event.data.text);
      else if (event.kind === "quote") live.quote(event.data);
    }
    setBusy(false);
    $("answer").classList.remove("live");
    if (!final) { showError("The answer stopped before it was complete. Please ask again."); return; }
    renderAnswer(final, performance.now() - started);
  } catch (err) {
    setBusy(false);
    showError("Could not reach the citeqa service. Is it running?");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask($("question").value); });
  for (const b of document.querySelectorAll(".example")) {
    b.addEventListener("click", () => { $("question").value = b.textContent; ask(b.textContent); });
  }
  $("article-close").addEventListener("click", () => { $("article").hidden = true; });
  const params = new URL(window.location.href).searchParams;
  if (params.get("as_of")) $("as-of").value = params.get("as_of");
  const q = params.get("q");
  if (q !== null) { $("question").value = q; ask(q); }
});
