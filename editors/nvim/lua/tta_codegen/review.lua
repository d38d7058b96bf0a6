--- Review before keep, in Neovim: code lenses, the lens commands that need a UI, and the
--- :TTAAccept / :TTADiscard[!] / :TTADiff / :TTARegenerate / :TTAPending commands.
---
--- In review mode (`[review] mode = "lens"`, the default) the server leaves each generation
--- in the buffer as a *pending change* and offers `Accept | Discard | Diff | Regenerate`
--- lenses on its first line (`Generating… (model, N tokens) | Cancel` while it streams).
---
--- Neovim 0.11 displays and runs lenses (`vim.lsp.codelens`) but neither advertises
--- `workspace.codeLens.refreshSupport` nor handles `workspace/codeLens/refresh`, and
--- `vim.lsp.codelens.refresh()` drops a refresh while one is in flight (which would leave a
--- stale `Generating…` lens behind). So the plugin advertises the capability, answers the
--- refresh itself, and asks the client for lenses directly, feeding the answers to
--- `vim.lsp.codelens.on_codelens` so that display and `vim.lsp.codelens.run()` stay Neovim's.
---
--- Lenses run the server's commands; only those whose answer needs a UI are intercepted
--- (through `vim.lsp.commands`): `tta.diff` opens a diff view, and `tta.discard` /
--- `tta.regenerate` may answer `refused` with a "… anyway" action to offer.
local R = {}

local api = vim.api

local LENS = 'textDocument/codeLens'
local TITLES = {
  ['tta.accept'] = 'Accept',
  ['tta.discard'] = 'Discard',
  ['tta.diff'] = 'Diff',
  ['tta.regenerate'] = 'Regenerate',
  ['tta.listPending'] = 'Pending changes',
}

--- bufnr -> { buf, win, file_win } of the open diff view.
local diffs = {}

local function plugin()
  return require('tta_codegen')
end

local function notify(msg, level)
  vim.notify('tta-codegen: ' .. msg, level or vim.log.levels.INFO)
end

local function ours(client)
  return plugin().is_ours(client)
end

-- -- lenses ------------------------------------------------------------------------------

local function on_lenses(err, result, ctx)
  -- Neovim draws a line's lenses sorted by column with an unstable sort; the server puts
  -- them all at column 0. Rank them by the server's order (only the line matters for
  -- running one) so they read `Accept | Discard | Diff | Regenerate` every time.
  local seen = {}
  for _, lens in ipairs(type(result) == 'table' and result or {}) do
    local line = lens.range.start.line
    seen[line] = (seen[line] or -1) + 1
    lens.range = vim.deepcopy(lens.range)
    lens.range.start.character = seen[line]
  end
  return vim.lsp.codelens.on_codelens(err, result, ctx)
end

--- Ask `client` (default: every tta-codegen client attached) for `bufnr`'s lenses and show
--- them with `vim.lsp.codelens`. Every call sends its own request: the last answer wins.
function R.refresh(bufnr, client)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if not plugin().config.codelens or not api.nvim_buf_is_loaded(bufnr) then
    return
  end
  local clients = client and { client } or vim.lsp.get_clients({ bufnr = bufnr })
  for _, c in ipairs(clients) do
    if ours(c) and c.initialized and c.attached_buffers[bufnr] and c:supports_method(LENS, bufnr) then
      local params = { textDocument = vim.lsp.util.make_text_document_params(bufnr) }
      c:request(LENS, params, on_lenses, bufnr)
    end
  end
end

--- Handler for the server's `workspace/codeLens/refresh` request.
function R.on_refresh(_, _, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client then
    for bufnr in pairs(client.attached_buffers or {}) do
      R.refresh(bufnr, client)
    end
  end
  return vim.NIL
end

--- What the client config adds for lenses (merged into `lsp_config()`).
function R.capabilities()
  return { workspace = { codeLens = { refreshSupport = true } } }
end

-- -- running review commands -------------------------------------------------------------

local function offer(result, opts)
  local actions = vim.tbl_filter(function(a)
    return type(a) == 'table' and type(a.command) == 'string'
  end, type(result.actions) == 'table' and result.actions or {})
  local message = type(result.message) == 'string' and result.message or 'refused'
  if #actions == 0 then
    notify(message, vim.log.levels.WARN)
    return
  end
  local items = vim.list_extend({}, actions)
  items[#items + 1] = { title = 'Cancel' }
  vim.ui.select(items, {
    prompt = message,
    kind = 'tta_codegen.refused',
    format_item = function(item)
      return item.title
    end,
  }, function(choice)
    if choice and choice.command then
      R.run(choice.command, (choice.arguments or {})[1], opts)
    end
  end)
end

local function settle(command, result, opts)
  if type(result) ~= 'table' then
    return
  end
  if result.status == 'refused' then
    offer(result, opts)
  elseif result.status == 'accepted' then
    notify('accepted: the generated code stays')
  elseif result.status == 'discarded' then
    notify('discarded: the text is back as it was')
  elseif command == 'tta.diff' then
    R.show_diff(result, opts.bufnr)
  end
end

--- Run a review command (`tta.accept`, `tta.discard`, `tta.diff`, `tta.regenerate`) with its
--- `{ id, force? }` argument, and handle its answer (diff view, "… anyway" offer, message).
--- `opts`: bufnr (the buffer the change is in), client.
function R.run(command, argument, opts)
  opts = opts or {}
  local bufnr = opts.bufnr or api.nvim_get_current_buf()
  return plugin().execute(command, argument, {
    bufnr = bufnr,
    client = opts.client,
    title = TITLES[command] or command,
    on_result = function(result)
      settle(command, result, { bufnr = bufnr, client = opts.client })
    end,
  })
end

--- `vim.lsp.commands` entries: a lens click on Diff / Discard / Regenerate comes here.
local function intercept(name)
  return function(command, ctx)
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    local arg = (command.arguments or {})[1]
    R.run(name, type(arg) == 'table' and arg or {}, { bufnr = ctx.bufnr, client = client })
  end
end

--- The intercepted lens commands, for `vim.lsp.commands` and a client config's `commands`.
function R.commands()
  local out = {}
  for _, name in ipairs({ 'tta.diff', 'tta.discard', 'tta.regenerate' }) do
    out[name] = intercept(name)
  end
  return out
end

-- -- the pending change under the cursor ---------------------------------------------------

local function covers(range, row)
  local s, e = range.start, range['end']
  if row < s.line then
    return false
  end
  if row < e.line then
    return true
  end
  return row == e.line and (e.character > 0 or s.line == e.line)
end

local function in_buffer(change, bufnr)
  return type(change.uri) == 'string' and vim.uri_to_fname(change.uri) == api.nvim_buf_get_name(bufnr)
end

local function lines_of(range)
  local first, last = range.start.line + 1, range['end'].line
  if range['end'].character > 0 or last + 1 == first then
    last = last + 1
  end
  return last <= first and ('line %d'):format(first) or ('lines %d-%d'):format(first, last)
end

--- The buffer's pending change that covers `row` (0-based), else the buffer's only one.
function R.pick(changes, bufnr, row)
  local here = vim.tbl_filter(function(c)
    return in_buffer(c, bufnr)
  end, changes)
  for _, c in ipairs(here) do
    if covers(c.range, row) then
      return c
    end
  end
  if #here == 1 then
    return here[1]
  end
  if #here == 0 then
    return nil, 'no pending change in this buffer (:TTAPending lists them all)'
  end
  local where = vim.tbl_map(function(c)
    return lines_of(c.range)
  end, here)
  return nil,
    ('no pending change under the cursor; this buffer has %d (%s): move onto one'):format(
      #here,
      table.concat(where, ', ')
    )
end

--- Fetch the pending changes (`tta.listPending`) and call `fn(changes, client)`.
function R.list(fn, bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local client = plugin().get_client(bufnr)
  if not client then
    -- E.g. from the quickfix window: any running tta-codegen client knows them all.
    client = vim.tbl_filter(ours, vim.lsp.get_clients())[1]
  end
  if not client then
    notify('no tta-codegen server is running', vim.log.levels.ERROR)
    return nil
  end
  return plugin().execute('tta.listPending', vim.empty_dict(), {
    bufnr = bufnr,
    client = client,
    title = TITLES['tta.listPending'],
    on_result = function(changes)
      fn(type(changes) == 'table' and changes or {}, client)
    end,
  })
end

--- Run `command` on the pending change under the cursor (`extra` merged into its argument).
function R.at_cursor(command, extra)
  local bufnr = api.nvim_get_current_buf()
  local row = api.nvim_win_get_cursor(0)[1] - 1
  return R.list(function(changes, client)
    local change, why = R.pick(changes, bufnr, row)
    if not change then
      notify(why, vim.log.levels.WARN)
      return
    end
    R.run(command, vim.tbl_extend('force', { id = change.id }, extra or {}), { bufnr = bufnr, client = client })
  end, bufnr)
end

--- Fill the quickfix list with the pending changes (and open it).
function R.pending()
  return R.list(function(changes)
    if #changes == 0 then
      notify('no pending changes')
      return
    end
    local items = {}
    for _, c in ipairs(changes) do
      local model = (c.model ~= nil and c.model ~= vim.NIL) and c.model or 'auto'
      items[#items + 1] = {
        filename = vim.uri_to_fname(c.uri),
        lnum = c.range.start.line + 1,
        col = c.range.start.character + 1,
        text = ('%s by %s, %s [%s]'):format(c.command, model, lines_of(c.range), c.id),
        user_data = { id = c.id },
      }
    end
    vim.fn.setqflist({}, ' ', { title = 'tta-codegen: pending changes', items = items })
    vim.cmd('botright copen')
  end)
end

-- -- diff view -----------------------------------------------------------------------------

local function close_diff(bufnr)
  local d = diffs[bufnr]
  diffs[bufnr] = nil
  if not d then
    return
  end
  if api.nvim_win_is_valid(d.file_win) then
    api.nvim_win_call(d.file_win, function()
      vim.cmd('diffoff')
    end)
  end
  if api.nvim_win_is_valid(d.win) then
    api.nvim_win_close(d.win, true)
  end
  if api.nvim_buf_is_valid(d.buf) then
    api.nvim_buf_delete(d.buf, { force = true })
  end
end

local function text_lines(text, bufnr)
  if vim.bo[bufnr].fileformat == 'dos' then
    text = text:gsub('\r\n', '\n')
  end
  local lines = vim.split(text, '\n', { plain = true })
  if #lines > 1 and lines[#lines] == '' then
    table.remove(lines) -- the final newline
  end
  return lines
end

local function show_float(result)
  local lines = text_lines(result.diff or '', 0)
  if #lines == 0 or (#lines == 1 and lines[1] == '') then
    lines = { '(no difference)' }
  end
  local buf, win = vim.lsp.util.open_floating_preview(lines, 'diff', {
    border = 'rounded',
    focus_id = 'tta_codegen_diff',
    title = ' original ↔ generated ',
  })
  vim.bo[buf].filetype = 'diff' -- the preview sets only 'syntax'
  return buf, win
end

--- Show a `tta.diff` answer: a scratch split holding the document as it was
--- (`original_document`), in diff mode against the live buffer; `q` closes it. With
--- `setup({ diff = 'float' })`, the unified diff in a floating window instead.
--- Returns the scratch buffer and its window.
function R.show_diff(result, bufnr)
  if plugin().config.diff == 'float' then
    return show_float(result)
  end
  if type(result.original_document) ~= 'string' then
    notify('the server sent no original_document for the diff', vim.log.levels.ERROR)
    return nil
  end
  bufnr = (bufnr and api.nvim_buf_is_valid(bufnr)) and bufnr or api.nvim_get_current_buf()
  close_diff(bufnr)
  local file_win = vim.fn.bufwinid(bufnr)
  if file_win == -1 then
    file_win = api.nvim_get_current_win()
    api.nvim_win_set_buf(file_win, bufnr)
  end

  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_lines(buf, 0, -1, false, text_lines(result.original_document, bufnr))
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = vim.bo[bufnr].filetype
  local name = ('tta-original://%s'):format(vim.fn.fnamemodify(api.nvim_buf_get_name(bufnr), ':~:.'))
  pcall(api.nvim_buf_set_name, buf, name)

  api.nvim_set_current_win(file_win)
  vim.cmd('leftabove vertical split')
  local win = api.nvim_get_current_win()
  api.nvim_win_set_buf(win, buf)
  vim.cmd('diffthis')
  api.nvim_win_call(file_win, function()
    vim.cmd('diffthis')
  end)
  diffs[bufnr] = { buf = buf, win = win, file_win = file_win }
  -- Start at the change (the text before it is the same in both): with 'cursorbind' a
  -- cursor left on line 1 here would pull the file's cursor to the top.
  local row = type(result.range) == 'table' and result.range.start.line + 1 or 1
  pcall(api.nvim_win_set_cursor, win, { math.min(row, api.nvim_buf_line_count(buf)), 0 })

  vim.keymap.set('n', 'q', function()
    close_diff(bufnr)
  end, { buffer = buf, nowait = true, desc = 'tta-codegen: close the diff' })
  -- However the scratch goes away (:q, :bd), the file's window leaves diff mode.
  api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    once = true,
    callback = function()
      if diffs[bufnr] and diffs[bufnr].buf == buf then
        diffs[bufnr] = nil
        vim.schedule(function()
          if api.nvim_win_is_valid(file_win) then
            api.nvim_win_call(file_win, function()
              vim.cmd('diffoff')
            end)
          end
        end)
      end
    end,
  })
  return buf, win
end

-- -- setup ---------------------------------------------------------------------------------

local function create_commands()
  local cmd = api.nvim_create_user_command
  cmd('TTAAccept', function()
    R.at_cursor('tta.accept')
  end, { desc = 'tta-codegen: keep the pending change under the cursor' })
  cmd('TTADiscard', function(o)
    R.at_cursor('tta.discard', o.bang and { force = true } or nil)
  end, {
    bang = true,
    desc = 'tta-codegen: put back the text from before the pending change under the cursor (! even if you edited it)',
  })
  cmd('TTADiff', function()
    R.at_cursor('tta.diff')
  end, { desc = 'tta-codegen: diff the pending change under the cursor against the original' })
  cmd('TTARegenerate', function(o)
    R.at_cursor('tta.regenerate', o.bang and { force = true } or nil)
  end, { bang = true, desc = 'tta-codegen: rerun the request of the pending change under the cursor' })
  cmd('TTAPending', function()
    R.pending()
  end, { desc = 'tta-codegen: list the pending changes in the quickfix list' })
end

--- Called by `require('tta_codegen').setup()` with its augroup.
function R.setup(group)
  -- Global as well as in lsp_config()'s `commands`: a client started from a hand-written
  -- config gets the diff view and the "… anyway" offer too.
  for name, fn in pairs(R.commands()) do
    vim.lsp.commands[name] = fn
  end
  if plugin().config.codelens then
    api.nvim_create_autocmd('LspAttach', {
      group = group,
      callback = function(ev)
        local client = vim.lsp.get_client_by_id(ev.data.client_id)
        if ours(client) then
          R.refresh(ev.buf, client)
        end
      end,
    })
    api.nvim_create_autocmd({ 'BufEnter', 'InsertLeave' }, {
      group = group,
      callback = function(ev)
        R.refresh(ev.buf)
      end,
    })
  end
  if plugin().config.commands then
    create_commands()
  end
end

return R
