--- Helpers for the headless-Neovim end-to-end cases in tests/nvim/cases/*.lua.
---
--- A case runs inside `nvim --headless --clean`; pytest passes its parameters in the JSON
--- file named by $TTA_TEST_PARAMS and reads back `T.result` (written as JSON on exit).
--- Every wait is a hang guard, never a speed check: it lasts T.HANG_GUARD_MS (the suite's
--- HANG_GUARD_MS from tests/guards.py, 10x and more what any step takes on an idle
--- machine) and ends with an error naming what did not happen, so a hung case ends with a
--- reason instead of the test's outer guard.
local T = {}

local function read(path)
  local f = assert(io.open(path, 'r'))
  local s = f:read('*a')
  f:close()
  return s
end

T.params = vim.json.decode(read(assert(os.getenv('TTA_TEST_PARAMS'), 'TTA_TEST_PARAMS not set')))
T.result = { done = {}, progress = {}, notes = {}, stale_drops = 0, timings = {} }
T.HANG_GUARD_MS = T.params.hang_guard_ms or 60000
-- Not a guard: how long T.finish() gives the server to stop politely (flushing its ledger)
-- before the case quits anyway; it returns as soon as the server has stopped.
T.STOP_GRACE_MS = 3000
local t0 = vim.uv.hrtime()

--- Milliseconds since the case started, under `name` in the result (for the report).
function T.mark(name)
  T.result.timings[name] = math.floor((vim.uv.hrtime() - t0) / 1e6)
end

-- Neovim prints "Buffer ... newer than edits." when it drops a stale versioned edit (and
-- still answers applied: true): count them, to show the version trap was exercised.
local builtin_print = print
_G.print = function(...)
  local parts = {}
  for i = 1, select('#', ...) do
    parts[#parts + 1] = tostring(select(i, ...))
  end
  if table.concat(parts, ' '):find('newer than edits', 1, true) then
    T.result.stale_drops = T.result.stale_drops + 1
  end
  builtin_print(...)
end

-- Messages the plugin shows (errors included), for assertions and failure reports.
vim.notify = function(msg, level)
  T.result.notes[#T.result.notes + 1] = { msg = msg, level = level or vim.log.levels.INFO }
end

vim.api.nvim_create_autocmd('User', {
  pattern = 'TTACodegenDone',
  callback = function(ev)
    local d = ev.data or {}
    T.result.done[#T.result.done + 1] = {
      command = d.command,
      status = d.status,
      error = d.error,
      result = d.result,
    }
  end,
})

-- Every $/progress the client gets, from the plugin or not (bare-client cases wait on it).
T.result.lsp_progress = {}
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local value = (ev.data.params or {}).value or {}
    T.result.lsp_progress[#T.result.lsp_progress + 1] =
      { kind = value.kind, title = value.title, message = value.message }
  end,
})

--- Tell the test process that `name` happened (it may be holding the fake's stream open
--- until then): writes the file <signal_dir>/<name>.
function T.signal(name)
  if T.params.signal_dir then
    local f = assert(io.open(T.params.signal_dir .. '/' .. name, 'w'))
    f:close()
  end
end

--- Wait until the test process says `name` happened (its `proceed=(name, ready)`).
function T.wait_signal(name)
  local path = T.params.signal_dir .. '/test-' .. name
  T.wait(function()
    return vim.uv.fs_stat(path) ~= nil
  end, 'the test process to see ' .. name)
end

local SKIP = '__tta_skip__:'

--- End the case as skipped (pytest skips with this reason).
function T.skip(reason)
  error(SKIP .. reason, 0)
end

--- require('tta_codegen').setup() pointed at the test's server and fake provider.
function T.setup(extra)
  local opts = {
    cmd = T.params.server_cmd,
    settings = T.params.settings,
    filetypes = { 'python' },
    progress = function(message, value)
      T.result.progress[#T.result.progress + 1] = { kind = value.kind, message = message }
    end,
  }
  require('tta_codegen').setup(vim.tbl_extend('force', opts, extra or {}))
end

--- Wait until `predicate()` holds; `what` names it in the error if the hang guard runs out.
--- (The older form T.wait(ms, predicate, what) is accepted; its `ms` is ignored.)
function T.wait(predicate, what, ...)
  if type(predicate) == 'number' then
    predicate, what = what, ...
  end
  if not vim.wait(T.HANG_GUARD_MS, predicate, 5) then
    error(('%s did not happen within the %d ms hang guard'):format(what, T.HANG_GUARD_MS), 2)
  end
end

--- Edit `path` and wait until the server is attached and initialized.
function T.open(path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  T.wait(function()
    return require('tta_codegen').get_client(bufnr) ~= nil
  end, 'the tta-codegen client to attach to ' .. path)
  T.mark('attached')
  return bufnr, require('tta_codegen').get_client(bufnr)
end

--- Without the plugin: edit `path` with a bare vim.lsp.start() client (Neovim's own
--- capabilities and handlers, as a plain lspconfig setup has; `debounce` from the params).
function T.open_plain(path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.lsp.start({
    name = 'plain',
    cmd = T.params.server_cmd,
    root_dir = T.params.workspace,
    init_options = T.params.settings,
    flags = T.params.debounce and { debounce_text_changes = T.params.debounce } or nil,
  }, { bufnr = bufnr })
  local client
  T.wait(function()
    client = vim.lsp.get_clients({ bufnr = bufnr })[1]
    return client ~= nil and client.initialized
  end, 'the server to start')
  T.mark('attached')
  return bufnr, client
end

--- Without the plugin: tta.generate at the cursor; the answer lands in T.result.done.
function T.generate_plain(client, bufnr, description)
  local arg = vim.lsp.util.make_position_params(0, client.offset_encoding)
  arg.description = description
  local params = { command = 'tta.generate', arguments = { arg } }
  local ok, id = client:request('workspace/executeCommand', params, function(err, result)
    T.result.done[#T.result.done + 1] = {
      command = 'tta.generate',
      status = err and 'failed' or result.status,
      error = err,
      result = result,
    }
  end, bufnr)
  assert(ok, 'request not sent')
  return id
end

function T.text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr or 0, 0, -1, false), '\n') .. '\n'
end

-- How many finished commands the case has taken with T.wait_done() so far.
local taken = 0

--- Wait for the `n`-th finished command (default: the next one the case has not taken yet)
--- and return it. Not "one more than have finished now": two answers can land within one
--- poll of the wait before (a :TTADiff's tta.listPending, then the tta.diff its answer sends
--- and the server answers within a millisecond), and the second must not be skipped.
function T.wait_done(n)
  n = n or taken + 1
  taken = math.max(taken, n)
  T.wait(function()
    return #T.result.done >= n
  end, ('tta-codegen command #%d to finish'):format(n))
  T.mark('done' .. n)
  return T.result.done[n]
end

function T.supports(client, command)
  local p = client.server_capabilities.executeCommandProvider
  return type(p) == 'table' and vim.list_contains(p.commands or {}, command)
end

function T.require_command(client, command)
  if not T.supports(client, command) then
    T.skip(('the server does not list %s in executeCommandProvider yet'):format(command))
  end
end

local function pos(p)
  return ('%d:%d'):format(p.line, p.character)
end

--- Keep a log of the edits the server sends and the didChanges Neovim answers with (in
--- `T.result.log`, shown when a test fails). `on_did_change(params)` runs after each
--- didChange goes out.
function T.log_conversation(on_did_change)
  T.result.log = {}
  local log = T.result.log
  local util = vim.lsp.util
  local real_apply = util.apply_workspace_edit
  util.apply_workspace_edit = function(edit, encoding)
    for _, dc in ipairs(edit.documentChanges or {}) do
      for _, e in ipairs(dc.edits or {}) do
        log[#log + 1] = ('applyEdit v%s (buffer at v%d) %s-%s %q'):format(
          tostring(dc.textDocument.version),
          util.buf_versions[vim.uri_to_bufnr(dc.textDocument.uri)],
          pos(e.range.start),
          pos(e.range['end']),
          e.newText
        )
      end
    end
    for _, edits in pairs(edit.changes or {}) do
      for _, e in ipairs(edits) do
        log[#log + 1] = ('applyEdit UNVERSIONED %s-%s %q'):format(pos(e.range.start), pos(e.range['end']), e.newText)
      end
    end
    return real_apply(edit, encoding)
  end
  vim.api.nvim_create_autocmd('LspNotify', {
    callback = function(ev)
      if ev.data.method ~= 'textDocument/didChange' then
        return
      end
      local p = ev.data.params
      local parts = {}
      for _, c in ipairs(p.contentChanges) do
        parts[#parts + 1] = c.range and ('%s-%s %q'):format(pos(c.range.start), pos(c.range['end']), c.text)
          or '(full text)'
      end
      log[#log + 1] = ('didChange v%d [%s]'):format(p.textDocument.version, table.concat(parts, ', '))
      if on_did_change then
        -- Not inside the change that is being reported: like a key typed right after it.
        vim.schedule(function()
          on_did_change(p)
        end)
      end
    end,
  })
end

-- -- review mode (code lenses) ------------------------------------------------------------

--- The lenses Neovim holds for `bufnr` (what vim.lsp.codelens.run() chooses from).
function T.lenses(bufnr)
  local out = {}
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
    local cmd = lens.command or {}
    out[#out + 1] = {
      line = lens.range.start.line,
      title = cmd.title,
      command = cmd.command,
      id = type(cmd.arguments) == 'table' and type(cmd.arguments[1]) == 'table' and cmd.arguments[1].id or nil,
    }
  end
  return out -- in the server's order
end

function T.titles(lenses)
  return vim.tbl_map(function(l)
    return l.title
  end, lenses)
end

--- Wait until the buffer's lenses satisfy `predicate(lenses)`; return them.
function T.wait_lenses(bufnr, predicate, what)
  local lenses
  T.wait(function()
    lenses = T.lenses(bufnr)
    return predicate(lenses)
  end, what)
  return lenses
end

function T.has_title(lenses, pattern)
  for _, l in ipairs(lenses) do
    if type(l.title) == 'string' and l.title:find(pattern) then
      return l
    end
  end
end

--- The lens text Neovim draws (virtual text in the codelens namespace): `{ [line] = text }`.
function T.lens_virt_text(bufnr, client)
  local ns = vim.lsp.codelens.__namespaces[client.id]
  local out = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
    local parts = {}
    for _, chunk in ipairs(m[4].virt_text or {}) do
      parts[#parts + 1] = chunk[1]
    end
    out[tostring(m[2])] = table.concat(parts)
  end
  return out
end

--- Count the server's workspace/codeLens/refresh requests (in T.result.lens_refreshes).
function T.count_lens_refreshes(client)
  T.result.lens_refreshes = 0
  local method = 'workspace/codeLens/refresh'
  local handler = client.handlers[method]
  client.handlers[method] = function(...)
    T.result.lens_refreshes = T.result.lens_refreshes + 1
    return handler(...)
  end
end

-- vim.ui.select answers: T.choose({ 'Discard', 'Discard anyway' }) picks those titles in
-- turn; with none queued the user cancels. Every prompt is kept in T.result.selects.
local choices = {}
T.result.selects = {}
vim.ui.select = function(items, opts, on_choice)
  local format = opts.format_item or tostring
  local titles = vim.tbl_map(format, items)
  local want = table.remove(choices, 1)
  T.result.selects[#T.result.selects + 1] = { prompt = opts.prompt, items = titles, chose = want }
  for i, title in ipairs(titles) do
    if title == want then
      return on_choice(items[i], i)
    end
  end
  on_choice(nil, nil)
end

function T.choose(titles)
  vim.list_extend(choices, titles)
end

--- Put the cursor on the line of the lens titled `title` and run it with
--- vim.ui.select answering `title` (then `then_choose`, if given).
function T.run_lens(bufnr, title, then_choose)
  local lens = assert(T.has_title(T.lenses(bufnr), '^' .. vim.pesc(title) .. '$'), 'no lens ' .. title)
  vim.api.nvim_win_set_cursor(0, { lens.line + 1, 0 })
  local runnable = vim.tbl_filter(function(l)
    return l.line == lens.line and l.command ~= nil and l.command ~= ''
  end, T.lenses(bufnr))
  if #runnable > 1 then -- else run() runs the one lens without asking
    T.choose({ title })
  end
  if then_choose then
    T.choose(then_choose)
  end
  vim.lsp.codelens.run()
  return lens
end

--- Generate at `line` (default `T.params.line`) from `T.params.description` (review
--- mode) and wait for the change's lenses; returns the generation's answer.
function T.generate_for_review(bufnr, line)
  vim.api.nvim_win_set_cursor(0, { line or T.params.line, 0 })
  vim.cmd('TTAGenerate ' .. T.params.description)
  local done = T.wait_done()
  T.wait_lenses(bufnr, function(ls)
    return T.has_title(ls, '^Accept$') ~= nil
  end, 'the review lenses')
  return done
end

--- Run the change's `title` lens (Accept, Discard) and wait for the lenses to go.
function T.decide(bufnr, title)
  T.run_lens(bufnr, title)
  T.wait_lenses(bufnr, function(ls)
    return #ls == 0
  end, 'the lenses to go after ' .. title)
end

local function write_result()
  local f = assert(io.open(T.params.result_path, 'w'))
  f:write(vim.json.encode(T.result))
  f:close()
end

--- Run one case file, record its outcome, quit Neovim.
--- Write the result, stop the servers and quit (T.run does it when the case returns, unless
--- the case called T.defer(): cases that type through the real input loop finish later).
function T.finish()
  T.mark('end')
  T.result.messages = vim.api.nvim_exec2('messages', { output = true }).output
  local okw, werr = pcall(write_result)
  if not okw then
    io.stderr:write('could not write the result: ' .. tostring(werr) .. '\n')
  end
  -- Stop the server politely so it can flush its ledger, then leave.
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop()
  end
  -- Not a guard: past this the case quits anyway (the server exits when stdin closes).
  vim.wait(T.STOP_GRACE_MS, function()
    return #vim.lsp.get_clients() == 0
  end, 20)
  vim.cmd('qall!')
end

local function record_error(err)
  if err:sub(1, #SKIP) == SKIP then
    T.result.skip = err:sub(#SKIP + 1)
  else
    T.result.error = err
  end
end

local function traceback(e)
  if type(e) == 'string' and e:sub(1, #SKIP) == SKIP then
    return e
  end
  return debug.traceback(tostring(e), 2)
end

--- Keys typed with nvim_input() are only read by Neovim's main loop, never inside
--- vim.wait(): such a case calls T.defer(), returns, and goes on in T.step() callbacks.
function T.defer()
  T.deferred = true
end

--- In a deferred case: run `fn` once `predicate()` holds, polling from the main loop (where
--- typed keys are read); `what` names it in the error if the hang guard runs out.
function T.step_until(predicate, what, fn)
  local deadline = vim.uv.now() + T.HANG_GUARD_MS
  local function poll()
    if predicate() then
      return fn()
    end
    if vim.uv.now() > deadline then
      error(('%s did not happen within the %d ms hang guard'):format(what, T.HANG_GUARD_MS))
    end
    T.step(10, poll)
  end
  T.step(0, poll)
end

--- Run `fn` after `ms` in the main loop; an error (or a finished `fn`) ends the case.
function T.step(ms, fn)
  vim.defer_fn(function()
    local ok, err = xpcall(fn, traceback)
    if not ok then
      record_error(err)
      T.finish()
    end
  end, ms)
end

function T.run(path)
  local ok, err = xpcall(dofile, traceback, path)
  if not ok then
    record_error(err)
  elseif T.deferred then
    return
  end
  T.finish()
end

return T
