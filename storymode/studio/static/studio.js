// storymode studio: the little script behind the library and the story board.
// Plain JavaScript, no framework. Story text only ever reaches the page through textContent and attributes.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="studio-csrf"]').content;
  const body = document.body;
  const statusLine = document.getElementById("status");
  const alertBox = document.getElementById("alert");
  const alertText = document.getElementById("alert-text");
  const alertReload = document.getElementById("alert-reload");

  // ------------------------------------------------------------ talking to the studio
  async function call(method, url, data) {
    const options = { method, credentials: "same-origin", headers: { "X-Studio-CSRF": csrf } };
    if (data !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(data);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "the studio does not answer: is it still running?" } };
    }
    let payload = null;
    const type = response.headers.get("content-type") || "";
    if (type.startsWith("application/json")) {
      try { payload = await response.json(); } catch (err) { payload = null; }
    } else if (response.ok) {
      payload = await response.blob();
    }
    return { ok: response.ok, status: response.status, data: payload };
  }

  function detail(result) {
    return (result.data && result.data.detail) || "the studio answered " + result.status;
  }

  function say(text) {
    statusLine.textContent = text;
  }

  function showAlert(text, offerReload) {
    alertText.textContent = text;
    alertReload.hidden = !offerReload;
    alertBox.hidden = false;
    (offerReload ? alertReload : alertBox.querySelector('[data-action="dismiss"]')).focus();
  }

  function hideAlert() {
    alertBox.hidden = true;
  }

  alertBox.addEventListener("click", function (event) {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.action === "reload") window.location.reload();
    if (button.dataset.action === "dismiss") hideAlert();
  });

  // ------------------------------------------------------------ progress (the pipeline's events, over SSE)
  function progressView(root) {
    const list = root.querySelector(".stages");
    const title = root.querySelector("#progress-title");
    const rows = {};

    function row(stage) {
      if (!rows[stage]) {
        const item = document.createElement("li");
        item.dataset.stage = stage;
        const name = document.createElement("span");
        name.className = "stage-name";
        name.textContent = stage;
        const bar = document.createElement("progress");
        bar.max = 1;
        bar.value = 0;
        bar.setAttribute("aria-label", stage);
        const count = document.createElement("span");
        count.className = "count";
        item.append(name, bar, count);
        list.append(item);
        rows[stage] = { item, bar, count };
      }
      return rows[stage];
    }

    return {
      start(kind) {
        list.replaceChildren();
        for (const key of Object.keys(rows)) delete rows[key];
        if (title) title.textContent = kind;
        root.hidden = false;
      },
      event(event) {
        if (!event.stage) {
          if (event.kind === "warning" || event.kind === "note") say(event.message || "");
          return;
        }
        const r = row(event.stage);
        if (event.total) {
          r.bar.max = event.total;
          r.bar.value = event.kind === "stage-end" ? event.total : (event.done || 0);
          r.count.textContent = (event.kind === "stage-end" ? event.total : (event.done || 0)) + " / " + event.total;
        }
        if (event.kind === "stage-end") r.item.dataset.done = "";
        if (event.message) say(event.stage + ": " + event.message);
      },
      stop() {
        root.hidden = true;
      },
    };
  }

  function follow(storyId, after, view, onJob) {
    const source = new EventSource("/s/" + encodeURIComponent(storyId) + "/events?after=" + (after || 0));
    source.addEventListener("progress", function (event) { view.event(JSON.parse(event.data)); });
    source.addEventListener("job", function (event) { onJob(JSON.parse(event.data)); });
    return source;
  }

  // ------------------------------------------------------------ the library: a new story
  function base64Of(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function readFile(file) {
    return new Promise(function (resolve, reject) {
      const reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(file);
    });
  }

  function setupLibrary() {
    const form = document.getElementById("new-story");
    const maxText = Number(body.dataset.maxText);
    const view = progressView(document.getElementById("progress"));

    function chosenSource() {
      return form.querySelector('input[name="source"]:checked').value;
    }

    form.addEventListener("change", function (event) {
      if (event.target.name !== "source") return;
      for (const part of form.querySelectorAll("[data-source]")) part.hidden = part.dataset.source !== chosenSource();
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      hideAlert();
      const settings = {};
      for (const name of ["scenes", "audience", "tone", "aspect", "resolution", "style", "writer", "narrator",
        "illustrator", "preset", "options"]) {
        const field = form.elements[name];
        if (!field || field.value.trim() === "") continue;
        settings[name] = name === "scenes" ? Number(field.value) : field.value.trim();
      }
      const payload = { settings };
      const source = chosenSource();
      if (source === "prompt") {
        payload.prompt = form.elements.prompt.value;
      } else if (source === "text") {
        payload.text = form.elements.text.value;
        if (form.elements.title.value.trim()) payload.title = form.elements.title.value.trim();
      } else {
        const file = form.elements.file.files[0];
        if (!file) { showAlert("choose a .txt or .md file first", false); return; }
        if (file.size > maxText) {
          showAlert(file.name + " is over 1 MB; the studio takes texts of at most 1 MB: split it into parts", false);
          return;
        }
        payload.file = { name: file.name, data: base64Of(await readFile(file)) };
      }
      const button = form.querySelector('[data-action="make"]');
      button.disabled = true;
      say("Starting…");
      const result = await call("POST", "/api/stories", payload);
      if (!result.ok) {
        button.disabled = false;
        say("");
        showAlert(detail(result), false);
        return;
      }
      view.start(result.data.id);
      say("Making the story: writing, narrating and drawing.");
      const source_ = follow(result.data.id, 0, view, function (job) {
        if (job.status === "done") {
          source_.close();
          window.location.href = result.data.url;
        } else if (job.status === "failed") {
          source_.close();
          button.disabled = false;
          view.stop();
          say("");
          showAlert("Making the story failed: " + job.error, false);
        }
      });
    });
  }

  // ------------------------------------------------------------ the story board
  function setupBoard() {
    const storyId = body.dataset.story;
    const base = "/s/" + encodeURIComponent(storyId);
    const view = progressView(document.getElementById("progress"));
    const jobMessage = document.getElementById("job-message");
    let player = null;

    function version() {
      return body.dataset.version;
    }

    function reloadWhenIdle() {
      const active = document.activeElement;
      const typing = active && (active.tagName === "TEXTAREA" || active.tagName === "INPUT") &&
        active.value !== active.defaultValue;
      if (typing) {
        showAlert("The story has new pictures or sound; reload to see them (finish your edit first).", true);
      } else {
        window.location.reload();
      }
    }

    async function edit(op, args, reload) {
      hideAlert();
      const result = await call("POST", base + "/edit", { base: version(), op, args });
      if (result.ok) {
        body.dataset.version = result.data.version;
        say("Saved.");
        if (reload) window.location.reload();
        return true;
      }
      if (result.status === 409) {
        showAlert(detail(result) + " Your change is still on this page.", true);
      } else {
        showAlert(detail(result), false);
      }
      return false;
    }

    function sceneOf(element) {
      const scene = element.closest("[data-scene]");
      return scene ? { id: scene.dataset.scene, index: Number(scene.dataset.index), element: scene } : null;
    }

    function lineOf(element) {
      const line = element.closest("[data-line]");
      return line ? Number(line.dataset.line) : null;
    }

    function markRejected(field, rejected) {
      if (rejected) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    }

    // saved on change (which a text field fires when it loses focus after an edit)
    document.getElementById("main").addEventListener("change", async function (event) {
      const field = event.target;
      const scene = sceneOf(field);
      let saved = null;
      if (field.id === "story-title") {
        saved = await edit("edit_title", { title: field.value }, false);
      } else if (field.dataset.field === "text" || field.dataset.field === "speaker") {
        const args = { scene_id: scene.id, index: lineOf(field) };
        args[field.dataset.field] = field.value;
        saved = await edit("edit_line", args, false);
        if (saved) field.closest("[data-line]").setAttribute("data-unnarrated", "");
      } else if (field.dataset.brief) {
        const fields = {};
        fields[field.dataset.brief] = field.dataset.list !== undefined
          ? field.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean)
          : (field.dataset.brief === "style" && field.value === "" ? null : field.value);
        saved = await edit("edit_brief", { scene_id: scene.id, fields }, false);
      } else if (field.type === "checkbox" && field.closest('[data-brief="characters"]')) {
        const set = field.closest('[data-brief="characters"]');
        const ids = Array.from(set.querySelectorAll("input:checked")).map(function (box) { return box.value; });
        saved = await edit("edit_brief", { scene_id: scene.id, fields: { characters: ids } }, false);
      } else if (field.dataset.action === "set-voice") {
        saved = await edit("set_voice", { character_id: field.dataset.character, voice: field.value || null }, false);
      }
      if (saved !== null) {
        markRejected(field, !saved);
        if (saved && field.defaultValue !== undefined) field.defaultValue = field.value;
      }
    });

    async function startJob(url, data) {
      hideAlert();
      const result = await call("POST", url, data);
      if (!result.ok) showAlert(detail(result), result.status === 409 && result.data && result.data.conflict);
    }

    async function play(url) {
      if (player) player.pause();
      player = new Audio(url);
      try { await player.play(); } catch (err) { say("The browser did not play the sound: " + err.message); }
    }

    function candidateCount() {
      const value = Number(document.getElementById("candidate-count").value);
      return value >= 1 && value <= 8 ? value : 4;
    }

    function chosenStyles() {
      return Array.from(document.querySelectorAll('input[name="redraw-style"]:checked')).map(function (b) {
        return b.value;
      });
    }

    function showCandidates(job) {
      const list = job.result || [];
      if (!list.length) return;
      const scene = document.querySelector('[data-scene="' + CSS.escape(list[0].scene_id) + '"]');
      if (!scene) return;
      const box = scene.querySelector("[data-candidates]");
      const heading = document.createElement("p");
      heading.textContent = job.kind === "redraw" ? "Pick a picture:" : "Pick a text:";
      const row = document.createElement("div");
      row.className = "candidate-row";
      list.forEach(function (candidate, n) {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.action = "pick";
        button.dataset.candidate = candidate.id;
        button.className = "candidate";
        if (candidate.url) {
          const img = document.createElement("img");
          img.src = candidate.url;
          img.alt = "Candidate " + (n + 1) + (candidate.style ? " (" + candidate.style + ")" : "");
          button.append(img);
        } else {
          for (const line of candidate.lines) {
            const p = document.createElement("span");
            p.className = "candidate-line";
            p.textContent = (line.speaker || "narrator") + ": " + line.text;
            button.append(p);
          }
          button.setAttribute("aria-label", "Candidate text " + (n + 1));
        }
        row.append(button);
      });
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.dataset.action = "close-candidates";
      cancel.textContent = "Keep the current one";
      box.replaceChildren(heading, row, cancel);
      box.hidden = false;
      row.querySelector("button").focus();
    }

    document.getElementById("main").addEventListener("click", async function (event) {
      const button = event.target.closest("button[data-action]");
      if (!button || button.disabled) return;
      const action = button.dataset.action;
      const scene = sceneOf(button);
      const line = lineOf(button);
      switch (action) {
        case "undo": {
          hideAlert();
          const result = await call("POST", base + "/undo", { base: version() });
          if (result.ok) window.location.reload();
          else showAlert(detail(result), result.status === 409);
          break;
        }
        case "job":
          await startJob(base + "/jobs/" + button.dataset.job);
          break;
        case "add-line":
          await edit("add_line", { scene_id: scene.id, after: line, speaker: "narrator", text: "A new line." }, true);
          break;
        case "remove-line":
          await edit("remove_line", { scene_id: scene.id, index: line }, true);
          break;
        case "split":
          await edit("split_scene", { scene_id: scene.id, at_line: line }, true);
          break;
        case "add-scene":
          await edit("add_scene", { after: scene.id }, true);
          break;
        case "remove-scene":
          await edit("remove_scene", { scene_id: scene.id }, true);
          break;
        case "move-up":
          await edit("move_scene", { scene_id: scene.id, to: scene.index - 1 }, true);
          break;
        case "move-down":
          await edit("move_scene", { scene_id: scene.id, to: scene.index + 1 }, true);
          break;
        case "merge":
          await edit("merge_scene", { scene_id: scene.id }, true);
          break;
        case "redraw":
        case "rewrite":
          await startJob(base + "/" + action, { scene_id: scene.id, n: candidateCount(),
            styles: action === "redraw" ? chosenStyles() : [] });
          break;
        case "pick": {
          hideAlert();
          const result = await call("POST", base + "/pick", { base: version(), candidate: button.dataset.candidate });
          if (result.ok) window.location.reload();
          else showAlert(detail(result), result.status === 409);
          break;
        }
        case "close-candidates": {
          const box = button.closest("[data-candidates]");
          box.hidden = true;
          box.replaceChildren();
          break;
        }
        case "play-line": {
          say("Narrating what changed…");
          const result = await call("POST", base + "/play", { base: version(), scene_id: scene.id, index: line });
          if (!result.ok) { say(""); showAlert(detail(result), result.status === 409); break; }
          say("");
          button.closest("[data-line]").removeAttribute("data-unnarrated");
          await play(result.data.url);
          break;
        }
        case "preview-voice": {
          let voice = button.dataset.voice;
          if (button.dataset.character) {
            const select = document.getElementById("voice-" + button.dataset.character);
            voice = (select && (select.value || select.dataset.auto)) || "";
          }
          if (!voice) { showAlert("this speaker has no voice to preview", false); break; }
          say("Preparing the voice " + voice + "…");
          const result = await call("POST", base + "/voice-preview", { voice });
          if (!result.ok) { say(""); showAlert(detail(result), false); break; }
          say("");
          await play(URL.createObjectURL(result.data));
          break;
        }
      }
    });

    follow(storyId, Number(body.dataset.after), view, function (job) {
      if (job.status === "running") {
        view.start(job.kind);
        jobMessage.hidden = true;
        say(job.kind + "…");
        return;
      }
      view.stop();
      if (job.status === "failed") {
        jobMessage.textContent = job.kind + " failed: " + job.error;
        jobMessage.hidden = false;
        say("");
        return;
      }
      say(job.kind + ": done.");
      if (job.kind === "redraw" || job.kind === "rewrite") showCandidates(job);
      else if (job.kind !== "narrate") reloadWhenIdle();
    });
  }

  if (body.dataset.page === "library") setupLibrary();
  if (body.dataset.page === "board") setupBoard();
})();
