--- Neovim client for the tta-codegen language server (Neovim 0.11+).
---
--- Owns what the built-in LSP client does not do by itself for this server: starting it
--- for the configured filetypes with the user's settings, the user commands that call its
--- `workspace/executeCommand` commands with positions in the negotiated encoding, progress
--- display, cancel, and reporting each command's answer. Code actions need nothing here:
--- they show up in `vim.lsp.buf.code_action()` because the server offers them. Review mode
--- (code lenses, accept/discard/diff/regenerate) lives in `tta_codegen.review`.
---
--- The server streams code into the buffer as versioned `workspace/applyEdit`s and waits for
--- the `didChange` echo of each one (Neovim drops stale edits yet answers `applied: true`),
--- so this client applies edits exactly as Neovim would, only quietly (the stock handler
--- prints a line per edit) and, when nothing else touched the buffer in between, joined
--- into one undo step.
local M = {}

local uv = vim.uv or vim.loop

---@class tta_codegen.Config
local defaults = {
  --- LSP client name (also what `vim.lsp.get_clients({ name = ... })` finds).
  name = 'tta_codegen',
  --- How to start the server (`tta-codegen serve` speaks LSP over stdio).
  cmd = { 'tta-codegen', 'serve' },
  --- Extra environment for the server, e.g. `{ OPENROUTER_API_KEY = ... }` (nil: inherit).
  cmd_env = nil,
  --- Filetypes for which the server is started (when `autostart` is true).
  filetypes = {
    'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'rust',
    'java', 'kotlin', 'c', 'cpp', 'cs', 'ruby', 'php', 'lua', 'sh', 'bash', 'zsh', 'swift',
    'scala', 'sql', 'toml', 'yaml', 'json', 'html', 'css', 'markdown',
  },
  --- The workspace root is the nearest directory holding one of these (else the file's own).
  root_markers = { 'tta-codegen.toml', 'pyproject.toml', '.git' },
  --- Server settings: the keys of tta-codegen.toml as a Lua table (providers, models,
  --- routing, budget, review, ...). Sent as `initializationOptions` and answered for
  --- `workspace/configuration` section `ttaCodegen`. Never put API keys here: name the
  --- env var with `api_key_env`.
  settings = {},
  --- Start the server from a FileType autocmd. Set false when nvim-lspconfig or
  --- `vim.lsp.enable()` starts it; the commands then use whichever client is attached.
  autostart = true,
  --- Create the :TTA* user commands.
  commands = true,
  --- Progress display: 'echo', 'notify', false, or function(msg, value, client).
  progress = 'echo',
  --- Model id for commands (nil: the server's routing decides).
  model = nil,
  --- Milliseconds Neovim waits before sending didChange for your typing (nil: Neovim's
  --- default, 150). The server's own edits are echoed at once regardless.
  debounce_text_changes = nil,
  --- Join one generation's streamed edits into one undo step (when the user did not edit
  --- the buffer in between).
  undojoin = true,
  --- Show the server's code lenses (review mode: Accept | Discard | Diff | Regenerate on a
  --- pending change, Generating… | Cancel while one streams) and keep them fresh.
  codelens = true,
  --- How Diff shows a pending change: 'split' (the original in a scratch split, diff mode
  --- against the buffer) or 'float' (the unified diff in a floating window).
  diff = 'split',
  --- Folders whose own tta-codegen.toml / [tool.tta-codegen] you trust (and their
  --- subfolders), e.g. { '~/src/mine' }. Only in a trusted workspace does the server use
  --- that file's providers' base_url/api_key_env/headers, command gates and gates.python
  --- (docs/security.md). :TTATrust trusts the current workspace in the user's data folder
  --- (the same store as `tta-codegen trust`; editing the config withdraws it).
  trusted_workspaces = {},
  --- Inline completion (ghost text as you type): `false` to turn it off, or a table of
  --- options (see lua/tta_codegen/completion.lua: debounce_ms, accept = '<M-l>', ...).
  completion = {},
  --- Passed through to the client config.
  on_attach = nil,
  capabilities = nil,
}

---@type tta_codegen.Config
M.config = vim.deepcopy(defaults)

local GENERATING = {
  ['tta.generate'] = true,
  ['tta.refine'] = true,
  ['tta.generateTests'] = true,
  ['tta.regenerate'] = true,
}
local CANCELLED = -32800

local function review()
  return require('tta_codegen.review')
end

local jobs = {} ---@type table<string, table> progress token -> job
local counter = 0
local undo_seq = {} ---@type table<integer, integer> bufnr -> undo seq after our last edit
local progress_text = {} ---@type table<integer, string> bufnr -> last progress message

--- The last finished command: `{ command, status, error, result, bufnr }`.
M.last = nil

local function notify(msg, level)
  vim.notify('tta-codegen: ' .. msg, level or vim.log.levels.INFO)
end

--- An empty Lua table is sent as `[]`; the server wants `{}` for object arguments.
local function obj(t)
  if t == nil or next(t) == nil then
    return vim.empty_dict()
  end
  return t
end

local function supports(client, command)
  local caps = client and client.server_capabilities
  local provider = caps and caps.executeCommandProvider
  return type(provider) == 'table' and vim.list_contains(provider.commands or {}, command)
end

local function is_ours(client)
  return client ~= nil and (client.name == M.config.name or supports(client, 'tta.generate'))
end
M.is_ours = is_ours

--- The tta-codegen client attached to `bufnr`, or nil and why not.
function M.get_client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  for _, client in ipairs(vim.lsp.get_clients({ bufnr = bufnr })) do
    if is_ours(client) then
      if not client.initialized then
        return nil, 'the server is still starting; try again in a moment'
      end
      return client
    end
  end
  return nil,
    ('no tta-codegen server is attached to this buffer (filetype "%s"); see :checkhealth tta_codegen'):format(
      vim.bo[bufnr].filetype
    )
end

local function buf_undo_seq(bufnr)
  return vim.api.nvim_buf_call(bufnr, function()
    return vim.fn.undotree().seq_cur
  end)
end

local function busy(bufnr)
  for _, job in pairs(jobs) do
    if job.bufnr == bufnr and not job.done then
      return true
    end
  end
  for _, client in ipairs(vim.lsp.get_clients({ bufnr = bufnr })) do
    if is_ours(client) then
      for _, req in pairs(client.requests or {}) do
        if req.type == 'pending' and req.method == 'workspace/executeCommand' and req.bufnr == bufnr then
          return true
        end
      end
    end
  end
  return false
end

local function edited_buffers(edit)
  local uris = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument then
      uris[#uris + 1] = change.textDocument.uri
    end
  end
  for uri in pairs(edit.changes or {}) do
    uris[#uris + 1] = uri
  end
  local bufs = {}
  for _, uri in ipairs(uris) do
    local bufnr = vim.uri_to_bufnr(uri)
    if vim.api.nvim_buf_is_loaded(bufnr) then
      bufs[#bufs + 1] = bufnr
    end
  end
  return bufs
end

local function changetracking_flush(client, bufnr)
  require('vim.lsp._changetracking').flush(client, bufnr)
end

--- `workspace/applyEdit` as Neovim's own handler does it, minus the printed label per edit,
--- plus one undo step per generation.
local function apply_edit(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local encoding = client and client.offset_encoding or 'utf-16'
  local bufs = edited_buffers(params.edit)
  if M.config.undojoin then
    for _, bufnr in ipairs(bufs) do
      if undo_seq[bufnr] and undo_seq[bufnr] == buf_undo_seq(bufnr) then
        vim.api.nvim_buf_call(bufnr, function()
          pcall(vim.cmd.undojoin)
        end)
      end
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, params.edit, encoding)
  for _, bufnr in ipairs(bufs) do
    undo_seq[bufnr] = (ok and busy(bufnr)) and buf_undo_seq(bufnr) or nil
    -- Echo the edit now, not after the didChange debounce: the server sends the next edit
    -- only once it has seen this one, and an edit it has not seen yet could not be undone
    -- by a cancel. (The same flush `client:request` does; private, hence the pcall.)
    if ok and client then
      pcall(changetracking_flush, client, bufnr)
    end
  end
  return { applied = ok, failureReason = (not ok) and tostring(err) or nil }
end

local function summary(result)
  local parts = {}
  if result.model and result.model ~= vim.NIL then
    parts[#parts + 1] = result.model
  end
  if type(result.text) == 'string' and result.text ~= '' then
    local _, lines = result.text:gsub('\n', '')
    parts[#parts + 1] = ('%d line%s'):format(lines, lines == 1 and '' or 's')
  end
  if type(result.cost_usd) == 'number' and result.cost_usd > 0 then
    parts[#parts + 1] = ('$%.4f'):format(result.cost_usd)
  end
  if type(result.review) == 'table' then
    parts[#parts + 1] = 'pending review: Accept or Discard it with its code lens (vim.lsp.codelens.run()) or :TTAAccept / :TTADiscard'
  end
  return table.concat(parts, ', ')
end

local function failure_reason(result, err)
  if err then
    return err.message or vim.inspect(err)
  end
  if type(result) == 'table' then
    if type(result.error) == 'string' and result.error ~= '' then
      return result.error
    end
    for _, attempt in ipairs(type(result.attempts) == 'table' and result.attempts or {}) do
      if type(attempt.error) == 'string' then
        return ('%s: %s'):format(attempt.model, attempt.error)
      end
    end
  end
  return 'unknown error'
end

--- Settle one command: record it, tell the user, fire `User TTACodegenDone`.
local function finish(job, err, result)
  if job.done then
    return
  end
  job.done = true
  if job.token then
    jobs[job.token] = nil
  end
  local status
  if err then
    status = err.code == CANCELLED and 'cancelled' or 'failed'
  elseif type(result) == 'table' and type(result.status) == 'string' then
    status = result.status
  else
    status = 'completed'
  end
  local error_message = status == 'failed' and failure_reason(result, err) or nil
  if job.bufnr and not busy(job.bufnr) then
    undo_seq[job.bufnr] = nil
    progress_text[job.bufnr] = nil
  end
  M.last = {
    command = job.command,
    status = status,
    error = error_message,
    result = result,
    bufnr = job.bufnr,
  }
  if status == 'failed' then
    notify(('%s failed: %s'):format(job.title, error_message), vim.log.levels.ERROR)
  elseif status == 'cancelled' then
    if GENERATING[job.command] then
      notify(job.title .. ' cancelled; the buffer is as it was', vim.log.levels.WARN)
    end
  elseif GENERATING[job.command] and status == 'completed' then
    notify(('%s done: %s'):format(job.title, summary(result)))
  elseif GENERATING[job.command] and status == 'gates_failed' then
    local names = {}
    for _, gate in ipairs(type(result.gates) == 'table' and result.gates or {}) do
      if gate.passed == false then
        table.insert(names, gate.name)
      end
    end
    notify(
      ('%s delivered, but gates failed (%s): %s'):format(
        job.title,
        #names > 0 and table.concat(names, ', ') or 'see diagnostics',
        summary(result)
      ),
      vim.log.levels.WARN
    )
  elseif GENERATING[job.command] and status == 'truncated' then
    notify(
      job.title
        .. ' was cut off at the token limit and could not be continued; the buffer is as it was'
        .. ' (raise generation.max_tokens)',
      vim.log.levels.WARN
    )
  end
  -- Any answer but a failure or a cancel goes to the caller (review commands answer
  -- `accepted`, `discarded`, `refused`).
  if status ~= 'failed' and status ~= 'cancelled' and job.on_result then
    job.on_result(result)
  end
  vim.api.nvim_exec_autocmds('User', {
    pattern = 'TTACodegenDone',
    modeline = false,
    data = M.last,
  })
end

--- Send `command` with its one object argument. Returns the job (nil and a message if not sent).
--- `opts`: bufnr, client, title, on_result(result).
function M.execute(command, argument, opts)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local client, why = opts.client, nil
  if not client then
    client, why = M.get_client(bufnr)
  end
  if not client then
    notify(why, vim.log.levels.ERROR)
    return nil, why
  end
  if not supports(client, command) then
    why = ('the server does not offer %s (update tta-codegen)'):format(command)
    notify(why, vim.log.levels.ERROR)
    return nil, why
  end
  counter = counter + 1
  local token = ('tta-codegen-%d-%d'):format(uv.os_getpid(), counter)
  local job = {
    token = token,
    command = command,
    bufnr = bufnr,
    client_id = client.id,
    title = opts.title or command,
    on_result = opts.on_result,
  }
  jobs[token] = job
  local params = { command = command, arguments = { obj(argument) }, workDoneToken = token }
  local ok, request_id = client:request('workspace/executeCommand', params, function(err, result)
    finish(job, err, result)
  end, bufnr)
  if not ok then
    jobs[token] = nil
    why = 'could not send the request: the server has stopped (see :LspLog)'
    notify(why, vim.log.levels.ERROR)
    return nil, why
  end
  job.request_id = request_id
  return job
end

--- Commands in flight (for statuslines and tests).
function M.jobs()
  local out = {}
  for _, job in pairs(jobs) do
    out[#out + 1] = job
  end
  return out
end

--- The latest progress message for a buffer, for a statusline ('' when idle).
function M.status(bufnr)
  return progress_text[bufnr or vim.api.nvim_get_current_buf()] or ''
end

--- Cancel every tta-codegen command in flight (`$/cancelRequest`). The server restores the
--- buffer exactly; the command counts as settled once its progress ends.
function M.cancel()
  local n = 0
  local ours = {}
  for _, job in pairs(jobs) do
    ours[job.request_id or -1] = true
    if not job.done and not job.cancelling and job.request_id then
      local client = vim.lsp.get_client_by_id(job.client_id)
      if client then
        job.cancelling = true
        client:cancel_request(job.request_id)
        n = n + 1
        -- A server that never answers must not leave the job around forever.
        vim.defer_fn(function()
          finish(job, { code = CANCELLED })
        end, 15000)
      end
    end
  end
  -- Commands started by code actions go through Neovim, not M.execute.
  for _, client in ipairs(vim.lsp.get_clients()) do
    if is_ours(client) then
      for id, req in pairs(client.requests or {}) do
        if req.type == 'pending' and req.method == 'workspace/executeCommand' and not ours[id] then
          client:cancel_request(id)
          n = n + 1
        end
      end
    end
  end
  if n == 0 then
    notify('nothing to cancel')
  end
  return n
end

local function job_by_request(client_id, request_id)
  for _, job in pairs(jobs) do
    if job.client_id == client_id and job.request_id == request_id then
      return job
    end
  end
end

local function show_progress(message, value, client)
  local mode = M.config.progress
  if type(mode) == 'function' then
    mode(message, value, client)
  elseif mode == 'notify' then
    notify(message)
  elseif mode == 'echo' then
    vim.api.nvim_echo({ { 'tta-codegen: ' .. message } }, false, {})
  end
end

local function on_progress(ev)
  local client = vim.lsp.get_client_by_id(ev.data.client_id)
  if not is_ours(client) then
    return
  end
  local params = ev.data.params or {}
  local value = params.value
  if type(value) ~= 'table' then
    return
  end
  local job = jobs[params.token]
  local message = value.title or 'tta-codegen'
  if type(value.message) == 'string' and value.message ~= '' then
    message = message .. ': ' .. value.message
  end
  if job then
    if value.kind == 'begin' then
      job.progress = true
    elseif value.kind == 'end' then
      job.progress_ended = true
    end
    progress_text[job.bufnr] = value.kind ~= 'end' and message or nil
  end
  show_progress(message, value, client)
  if job and value.kind == 'end' and job.cancelling then
    -- The server ends the progress after it restored the buffer: the cancel is complete.
    finish(job, { code = CANCELLED })
  end
end

local function on_request(ev)
  local data = ev.data or {}
  if not (data.request and data.request.type == 'complete') then
    return
  end
  local job = job_by_request(data.client_id, data.request_id)
  if job and job.cancelling then
    -- Neovim swallows the RequestCancelled answer. If the progress never began, nothing
    -- will follow; give a late `begin` a moment to arrive first.
    vim.defer_fn(function()
      if not job.progress or job.progress_ended then
        finish(job, { code = CANCELLED })
      end
    end, 300)
  end
end

--- Answers to commands Neovim itself sent (code actions): report them like ours.
local function on_execute_command(err, result, ctx)
  local command = ctx.params and ctx.params.command or 'command'
  finish({ command = command, title = command, bufnr = ctx.bufnr }, err, result)
end

--- Whether `root` is one of `trusted_workspaces` (or inside one).
function M.is_trusted(root)
  if not root or root == '' then
    return false
  end
  local real = vim.fs.normalize(uv.fs_realpath(root) or root)
  for _, dir in ipairs(M.config.trusted_workspaces or {}) do
    local expanded = vim.fs.normalize(vim.fn.expand(dir))
    local want = vim.fs.normalize(uv.fs_realpath(expanded) or expanded)
    if real == want or vim.startswith(real, want .. '/') then
      return true
    end
  end
  return false
end

--- Tell the server, before it reads the workspace's config, whether the user trusts it.
local function before_init(params)
  local root = params.rootPath
  if params.workspaceFolders and params.workspaceFolders[1] then
    root = vim.uri_to_fname(params.workspaceFolders[1].uri)
  elseif params.rootUri then
    root = vim.uri_to_fname(params.rootUri)
  end
  if M.is_trusted(root) then
    params.initializationOptions = params.initializationOptions or {}
    params.initializationOptions.workspaceTrusted = true
  end
end

--- The client config: for `vim.lsp.start`, `vim.lsp.config` or nvim-lspconfig.
function M.lsp_config()
  local c = M.config
  local settings = c.settings or {}
  local has_settings = next(settings) ~= nil
  return {
    name = c.name,
    cmd = c.cmd,
    cmd_env = c.cmd_env,
    filetypes = c.filetypes,
    root_markers = c.root_markers,
    init_options = has_settings and { ttaCodegen = settings } or nil,
    settings = has_settings and { ttaCodegen = settings } or nil,
    before_init = before_init,
    handlers = {
      ['workspace/applyEdit'] = apply_edit,
      ['workspace/executeCommand'] = on_execute_command,
      -- Neovim 0.11 has no handler for it (nor advertises it): see tta_codegen.review.
      ['workspace/codeLens/refresh'] = review().on_refresh,
    },
    -- Lens commands whose answer needs a UI (diff view, "Discard anyway"): tta_codegen.review.
    commands = review().commands(),
    flags = c.debounce_text_changes and { debounce_text_changes = c.debounce_text_changes } or nil,
    -- Neovim applies versioned TextDocumentEdits but does not say so. Without versions the
    -- server must send plain `changes`, and an edit computed before the user's latest
    -- keystrokes reached it lands at a stale position; with them Neovim drops such an
    -- edit and the server re-sends it where it now belongs.
    capabilities = vim.tbl_deep_extend(
      'force',
      c.capabilities or {},
      { workspace = { workspaceEdit = { documentChanges = true } } },
      c.codelens and review().capabilities() or {}
    ),
    on_attach = c.on_attach,
  }
end

--- Start (or reuse) the server for a buffer. Returns the client id.
function M.start(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return nil
  end
  local exe = M.config.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    vim.notify_once(
      ('tta-codegen: cannot start the server: %q is not executable. Install it '
        .. '(pip install tta-codegen) or set `cmd` in setup().'):format(exe),
      vim.log.levels.ERROR
    )
    return nil
  end
  local config = M.lsp_config()
  config.filetypes, config.root_markers = nil, nil
  config.root_dir = vim.fs.root(bufnr, M.config.root_markers) or vim.fs.dirname(name)
  return vim.lsp.start(config, { bufnr = bufnr })
end

-- -- positions ---------------------------------------------------------------------------

local function line_text(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

local function lsp_range(bufnr, r1, c1, r2, c2, encoding)
  local util = vim.lsp.util
  return {
    start = { line = r1, character = util.character_offset(bufnr, r1, c1, encoding) },
    ['end'] = { line = r2, character = util.character_offset(bufnr, r2, c2, encoding) },
  }
end

--- The LSP range of a command's range: the exact characters of a charwise visual
--- selection, else whole lines (with the last line's newline).
function M.command_range(bufnr, line1, line2, encoding)
  local s = vim.api.nvim_buf_get_mark(bufnr, '<')
  local e = vim.api.nvim_buf_get_mark(bufnr, '>')
  if vim.fn.visualmode() == 'v' and s[1] == line1 and e[1] == line2 then
    local last = line_text(bufnr, e[1] - 1)
    local ecol = #last
    if e[2] < #last then
      ecol = e[2] + vim.str_utf_end(last, e[2] + 1) + 1 -- the mark is on the last char
    end
    return lsp_range(bufnr, s[1] - 1, s[2], e[1] - 1, ecol, encoding)
  end
  if line2 < vim.api.nvim_buf_line_count(bufnr) then
    return lsp_range(bufnr, line1 - 1, 0, line2, 0, encoding)
  end
  return lsp_range(bufnr, line1 - 1, 0, line2 - 1, #line_text(bufnr, line2 - 1), encoding)
end

local function with_client()
  local bufnr = vim.api.nvim_get_current_buf()
  local client, why = M.get_client(bufnr)
  if not client then
    notify(why, vim.log.levels.ERROR)
  end
  return client, bufnr
end

-- -- commands ----------------------------------------------------------------------------

--- Generate code from a description at the cursor.
function M.generate(description, opts)
  opts = opts or {}
  local client, bufnr = with_client()
  if not client then
    return nil
  end
  local p = vim.lsp.util.make_position_params(0, client.offset_encoding)
  return M.execute('tta.generate', {
    textDocument = p.textDocument,
    position = p.position,
    description = description or '',
    template = opts.template,
    variables = opts.template and obj(opts.variables) or nil,
    model = opts.model or M.config.model,
  }, { bufnr = bufnr, client = client, title = opts.title or 'Generate' })
end

--- Rewrite lines `line1..line2` (or the charwise visual selection on them).
function M.refine(instruction, line1, line2, opts)
  opts = opts or {}
  local client, bufnr = with_client()
  if not client then
    return nil
  end
  return M.execute('tta.refine', {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    range = M.command_range(bufnr, line1, line2, client.offset_encoding),
    instruction = instruction,
    model = opts.model or M.config.model,
  }, { bufnr = bufnr, client = client, title = 'Refine' })
end

--- Write tests for the buffer (or for lines `line1..line2`).
function M.generate_tests(line1, line2, opts)
  opts = opts or {}
  local client, bufnr = with_client()
  if not client then
    return nil
  end
  local arg = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    model = opts.model or M.config.model,
  }
  if line1 then
    arg.range = M.command_range(bufnr, line1, line2, client.offset_encoding)
  end
  return M.execute('tta.generateTests', arg, { bufnr = bufnr, client = client, title = 'Tests' })
end

--- Ask for each variable in turn, then call `done(values)` (nil if the user gave up).
local function ask_variables(variables, done)
  local values = {}
  local i = 0
  local function next_one()
    i = i + 1
    local var = variables[i]
    if not var then
      return done(values)
    end
    local default = var.default ~= vim.NIL and var.default or nil
    vim.ui.input({
      prompt = ('%s%s: '):format(var.name, var.required and ' (required)' or ''),
      default = default ~= nil and tostring(default) or nil,
    }, function(input)
      if input == nil then
        return done(nil)
      end
      if input == '' and var.required then
        notify(('%s is required'):format(var.name), vim.log.levels.ERROR)
        return done(nil)
      end
      if input ~= '' then
        -- vim.ui.input gives text; the template checks types, so follow the default's.
        if type(default) == 'number' then
          values[var.name] = tonumber(input) or input
        elseif type(default) == 'boolean' and (input == 'true' or input == 'false') then
          values[var.name] = input == 'true'
        else
          values[var.name] = input
        end
      end
      next_one()
    end)
  end
  next_one()
end

--- Pick a template from the prompt library, fill in its variables, generate at the cursor.
function M.prompt(description)
  local client, bufnr = with_client()
  if not client then
    return nil
  end
  local win = vim.api.nvim_get_current_win()
  return M.execute('tta.listPrompts', vim.empty_dict(), {
    bufnr = bufnr,
    client = client,
    title = 'List prompts',
    on_result = function(templates)
      if type(templates) ~= 'table' or #templates == 0 then
        notify('the prompt library is empty', vim.log.levels.WARN)
        return
      end
      vim.ui.select(templates, {
        prompt = 'tta-codegen template',
        format_item = function(t)
          local desc = type(t.description) == 'string' and t.description or ''
          return ('%s [%s] %s'):format(t.title or t.id, t.category or '', desc)
        end,
      }, function(template)
        if not template then
          return
        end
        local variables = type(template.variables) == 'table' and template.variables or {}
        ask_variables(variables, function(values)
          if values == nil then
            return
          end
          if vim.api.nvim_win_is_valid(win) then
            vim.api.nvim_set_current_win(win)
          end
          M.generate(description or '', {
            template = template.id,
            variables = values,
            title = template.title or template.id,
          })
        end)
      end)
    end,
  })
end

local function fmt_ms(v)
  return type(v) == 'number' and ('%d ms'):format(v) or '-'
end

--- The lines `:TTAStats` shows for a `tta.stats` answer.
function M.format_stats(stats)
  local lines = { 'tta-codegen stats' }
  local totals = type(stats.totals) == 'table' and stats.totals or {}
  lines[#lines + 1] = ('requests %s, failures %s, cost today $%.4f, total $%.4f'):format(
    totals.requests or 0,
    totals.failures or 0,
    tonumber(totals.cost_today_usd) or 0,
    tonumber(totals.cost_total_usd) or 0
  )
  lines[#lines + 1] = ''
  for _, m in ipairs(type(stats.models) == 'table' and stats.models or {}) do
    lines[#lines + 1] = ('%s: %d requests, %d failed, ttft p50 %s, total p50 %s / p95 %s, %d+%d tokens, $%.4f'):format(
      m.model,
      m.requests or 0,
      m.failures or 0,
      fmt_ms(m.ttft_p50_ms),
      fmt_ms(m.total_p50_ms),
      fmt_ms(m.total_p95_ms),
      m.prompt_tokens or 0,
      m.completion_tokens or 0,
      tonumber(m.cost_total_usd) or 0
    )
  end
  if type(stats.ledger) == 'string' then
    lines[#lines + 1] = ''
    lines[#lines + 1] = 'ledger: ' .. stats.ledger
  end
  return lines
end

--- Show per-model statistics in a scratch buffer.
function M.stats()
  return M.execute('tta.stats', vim.empty_dict(), {
    title = 'Stats',
    on_result = function(stats)
      local lines = M.format_stats(type(stats) == 'table' and stats or {})
      local buf = vim.api.nvim_create_buf(false, true)
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
      vim.bo[buf].modifiable = false
      vim.bo[buf].bufhidden = 'wipe'
      vim.cmd('botright split')
      vim.api.nvim_win_set_buf(0, buf)
      vim.api.nvim_win_set_height(0, math.min(#lines + 1, 15))
      vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true })
    end,
  })
end

--- Trust the current workspace's own config (stored by the server with a hash of the
--- config, like `tta-codegen trust`), or with `revoke` forget it.
function M.trust(revoke)
  return M.execute('tta.trustWorkspace', { revoke = revoke or false }, {
    title = 'Trust',
    on_result = function(answer)
      if type(answer) ~= 'table' then
        return
      end
      if revoke then
        notify(answer.root .. ' is no longer trusted', vim.log.levels.INFO)
      else
        notify(
          'trusted ' .. answer.root .. ' with its config as it is now; editing the config withdraws this trust',
          vim.log.levels.INFO
        )
      end
    end,
  })
end

local function create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('TTAGenerate', function(o)
    if o.args == '' then
      vim.ui.input({ prompt = 'Generate: ' }, function(text)
        if text and text ~= '' then
          M.generate(text)
        end
      end)
      return
    end
    M.generate(o.args)
  end, { nargs = '*', desc = 'tta-codegen: generate code at the cursor from a description' })
  cmd('TTARefine', function(o)
    if o.args == '' then
      notify('say how to change the code, e.g. :TTARefine add type hints', vim.log.levels.ERROR)
      return
    end
    M.refine(o.args, o.line1, o.line2)
  end, { nargs = '*', range = true, desc = 'tta-codegen: rewrite the selected lines' })
  cmd('TTATests', function(o)
    if o.range > 0 then
      M.generate_tests(o.line1, o.line2)
    else
      M.generate_tests()
    end
  end, { range = true, desc = 'tta-codegen: write tests for this file (or the selection)' })
  cmd('TTAPrompt', function(o)
    M.prompt(o.args)
  end, { nargs = '*', desc = 'tta-codegen: generate from a prompt template' })
  cmd('TTAStats', function()
    M.stats()
  end, { desc = 'tta-codegen: per-model statistics' })
  cmd('TTACompletionToggle', function(o)
    local on = require('tta_codegen.completion').toggle(o.bang and vim.api.nvim_get_current_buf() or nil)
    notify('inline completion ' .. (on and 'on' or 'off'))
  end, { bang = true, desc = 'tta-codegen: inline completion on/off (! for this buffer only)' })
  cmd('TTACancel', function()
    M.cancel()
  end, { desc = 'tta-codegen: cancel the running command and restore the buffer' })
  cmd('TTATrust', function(o)
    M.trust(o.bang)
  end, { bang = true, desc = "tta-codegen: trust this workspace's config (! forgets it)" })
end

--- Configure the plugin. See `defaults` above (and docs/neovim.md) for the options.
function M.setup(opts)
  opts = opts or {}
  vim.validate('opts', opts, 'table')
  M.config = vim.tbl_extend('force', vim.deepcopy(defaults), opts)
  if type(M.config.cmd) == 'string' then
    M.config.cmd = { M.config.cmd }
  end
  local group = vim.api.nvim_create_augroup('tta_codegen', { clear = true })
  vim.api.nvim_create_autocmd('LspProgress', { group = group, callback = on_progress })
  vim.api.nvim_create_autocmd('LspRequest', { group = group, callback = on_request })
  if M.config.autostart then
    vim.api.nvim_create_autocmd('FileType', {
      group = group,
      pattern = M.config.filetypes,
      callback = function(ev)
        M.start(ev.buf)
      end,
    })
    -- Buffers opened before setup() ran.
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) and vim.list_contains(M.config.filetypes, vim.bo[bufnr].filetype) then
        M.start(bufnr)
      end
    end
  end
  if M.config.commands then
    create_commands()
  end
  review().setup(group)
  local completion = M.config.completion
  if completion ~= false then
    require('tta_codegen.completion').setup(group, completion)
  end
end

return M
