// The minigpt web page: plain JavaScript, no build step, nothing loaded from elsewhere.
// It calls the same OpenAI-compatible API as any other client, with "stream": true, and
// reads the server-sent events from fetch()'s ReadableStream as they arrive.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, auth: false, history: [], controller: null, defaultsShown: false,
                tab: "complete", stats: { complete: "", chat: "" }, errorFrom: null, modelLoads: 0 };

// Each tab keeps its own status line: the chat tab does not show the last completion's speed.
function setStats(tab, text) {
  state.stats[tab] = text;
  if (tab === state.tab) $("stats").textContent = text;
}

// ------------------------------------------------------------------ settings and errors

function apiHeaders() {
  const headers = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

function samplingSettings() {
  const body = {
    temperature: Number($("temperature").value),
    top_p: Number($("top-p").value),
    top_k: Math.max(0, Math.round(Number($("top-k").value) || 0)),
    repetition_penalty: Number($("repetition-penalty").value) || 1,
    max_tokens: Math.max(1, Math.round(Number($("max-tokens").value) || 1)),
  };
  const seed = $("seed").value.trim();
  if (seed !== "") body.seed = Math.round(Number(seed));
  if (state.model) body.model = state.model;
  return body;
}

// `from` says who showed the error ("model" for loading the model card, "request" for a
// generation), so that a model reload, which the key field can fire at any time, clears only
// its own error and never a generation's.
function showError(message, from = "request") {
  $("error").textContent = message;
  $("error").hidden = !message;
  state.errorFrom = message ? from : null;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.error?.message ?? JSON.stringify(body)}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function showValue(input, output) {
  const update = () => { output.textContent = Number(input.value).toFixed(2); };
  input.addEventListener("input", update);
  update();
}

// ------------------------------------------------------------------ server-sent events

// Yield each JSON event of an SSE response ("data: {...}" blocks separated by a blank line).
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}

function setBusy(busy) {
  document.body.dataset.state = busy ? "generating" : "done";
  $("generate").disabled = busy;
  $("chat-send").disabled = busy;
  $("stop").disabled = !busy;
  $("chat-stop").disabled = !busy;
}

// POST a streaming request; call onText(piece) for each piece. Returns the finish reason.
async function streamRequest(path, body, onText) {
  state.controller = new AbortController();
  const tab = state.tab;
  setBusy(true);
  showError("");
  setStats(tab, "waiting for the model…");
  const started = performance.now();
  let firstAt = null, finish = null, usage = null, pieces = 0;
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: apiHeaders(),
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    for await (const event of sseEvents(response)) {
      if (event.error) throw new Error(event.error.message);
      if (event.usage) usage = event.usage;
      for (const choice of event.choices ?? []) {
        const text = choice.text ?? choice.delta?.content ?? "";
        if (text) {
          firstAt ??= performance.now();
          pieces += 1;
          onText(text);
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
  } catch (err) {
    if (err.name === "AbortError") finish = "stopped";
    else showError(err.message);
  } finally {
    setBusy(false);
    state.controller = null;
  }
  const seconds = (performance.now() - (firstAt ?? started)) / 1000;
  const tokens = usage ? usage.completion_tokens : pieces;
  setStats(tab, finish
    ? `${tokens} tokens in ${seconds.toFixed(2)} s (${(tokens / Math.max(seconds, 1e-3)).toFixed(1)} tokens/s) · finish: ${finish}`
    : "");
  return finish;
}

function stop() {
  if (state.controller) state.controller.abort();
}

// ------------------------------------------------------------------ complete mode

async function generate() {
  const prompt = $("prompt").value;
  $("output-prompt").textContent = prompt;
  $("output-text").textContent = "";
  await streamRequest("/v1/completions", { ...samplingSettings(), prompt }, (text) => {
    $("output-text").textContent += text;
  });
}

// ------------------------------------------------------------------ chat mode

function addBubble(role, text) {
  const bubble = document.createElement("div");
  bubble.className = `bubble ${role}`;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "you" : state.model ?? "model";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  bubble.append(who, body);
  $("chat-log").append(bubble);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
  return body;
}

async function sendChat(event) {
  event.preventDefault();
  const message = $("chat-input").value.trim();
  if (!message || state.controller) return;
  $("chat-input").value = "";
  addBubble("user", message);
  const reply = addBubble("assistant", "");
  const messages = [];
  const persona = $("persona").value.trim();
  if (persona) messages.push({ role: "system", content: persona });
  messages.push(...state.history, { role: "user", content: message });
  const finish = await streamRequest("/v1/chat/completions", { ...samplingSettings(), messages }, (text) => {
    reply.textContent += text;
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
  });
  if (finish && finish !== "stopped") {
    state.history.push({ role: "user", content: message }, { role: "assistant", content: reply.textContent });
  }
}

function resetChat() {
  state.history = [];
  $("chat-log").replaceChildren();
  setStats("chat", "");
}

function showTab(name) {
  state.tab = name;
  $("stats").textContent = state.stats[name];
  for (const tab of ["complete", "chat"]) {
    const active = tab === name;
    $(`tab-${tab}`).classList.toggle("active", active);
    $(`tab-${tab}`).setAttribute("aria-selected", String(active));
    $(`${tab}-pane`).hidden = !active;
  }
}

// ------------------------------------------------------------------ start

// Loads count on <body data-model-loads>, so a test can wait for a reload to end.
async function loadModel() {
  try {
    await loadModelCard();
  } finally {
    state.modelLoads += 1;
    document.body.dataset.modelLoads = String(state.modelLoads);
  }
}

async function loadModelCard() {
  const response = await fetch("/v1/models", { headers: apiHeaders() });
  if (!response.ok) {
    showError(await errorMessage(response), "model");
    return;
  }
  const card = (await response.json()).data[0];
  state.model = card.id;
  $("model-name").textContent = `${card.id} · context ${card.context_length} tokens`;
  if (card.limits?.max_tokens) $("max-tokens").max = card.limits.max_tokens;
  if (state.errorFrom === "model") showError("");
  if (state.defaultsShown) return; // keep what the user set when the key changes
  state.defaultsShown = true;
  const d = card.defaults ?? {};
  if (d.temperature !== undefined) $("temperature").value = d.temperature;
  if (d.top_p !== undefined) $("top-p").value = d.top_p;
  if (d.top_k !== undefined) $("top-k").value = d.top_k;
  if (d.repetition_penalty !== undefined) $("repetition-penalty").value = d.repetition_penalty;
  if (d.max_tokens !== undefined) $("max-tokens").value = d.max_tokens;
  $("temperature").dispatchEvent(new Event("input"));
  $("top-p").dispatchEvent(new Event("input"));
}

async function init() {
  showValue($("temperature"), $("temperature-value"));
  showValue($("top-p"), $("top-p-value"));
  $("generate").addEventListener("click", generate);
  $("stop").addEventListener("click", stop);
  $("chat-stop").addEventListener("click", stop);
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-reset").addEventListener("click", resetChat);
  $("tab-complete").addEventListener("click", () => showTab("complete"));
  $("tab-chat").addEventListener("click", () => showTab("chat"));
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate();
  });
  $("api-key").addEventListener("change", loadModel);
  try {
    const health = await (await fetch("/health")).json();
    state.auth = health.auth;
    $("key-row").hidden = !health.auth;
    await loadModel();
  } catch (err) {
    showError(`cannot reach the server: ${err.message}`, "model");
  }
  document.body.dataset.state = "ready";
}

init();
