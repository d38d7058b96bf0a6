--- Inline completion (ghost text as you type) for the tta-codegen server.
---
--- Neovim 0.11 has no `textDocument/inlineCompletion` client, so this module is one: on
--- TextChangedI/CursorMovedI it waits `debounce_ms`, cancels the request still in flight
--- (the server then closes its model stream at once) and asks again; the answer is drawn
--- as extmarks (the first line inline at the cursor, the rest as virtual lines). The
--- accept mapping (default <M-l>) inserts it and reports the acceptance to the server by
--- running the item's `tta.completionAccepted` command; leaving insert mode clears it.
--- On Neovim 0.12+, `vim.lsp.inline_completion` is used instead when present.
local M = {}

local ns = vim.api.nvim_create_namespace('tta_codegen_completion')
local uv = vim.uv or vim.loop

---@class tta_codegen.CompletionConfig
local defaults = {
  enabled = true,
  --- Milliseconds of quiet typing before asking (the server debounces too).
  debounce_ms = 75,
  --- Insert-mode key that accepts the suggestion (falls through when there is none).
  accept = '<M-l>',
  --- Insert-mode key that dismisses it (nil: none; leaving insert mode always clears).
  dismiss = nil,
  --- Filetypes to complete in (nil: every buffer the server is attached to).
  filetypes = nil,
  --- Use Neovim's own client (`vim.lsp.inline_completion`, 0.12+) when it exists.
  builtin = true,
  --- Highlight group of the ghost text.
  hl_group = 'Comment',
}

M.config = vim.deepcopy(defaults)
--- Counters for :checkhealth and tests: requests sent, cancelled (stale), shown, accepted.
M.counters = { requests = 0, cancelled = 0, shown = 0, accepted = 0 }

local state = {} ---@type table<integer, table> bufnr -> { timer, client, request_id, item }

local function tta()
  return require('tta_codegen')
end

local function buf_state(bufnr)
  state[bufnr] = state[bufnr] or {}
  return state[bufnr]
end

local function enabled_for(bufnr)
  if not M.config.enabled or vim.b[bufnr].tta_completion == false then
    return false
  end
  local fts = M.config.filetypes
  return fts == nil or vim.list_contains(fts, vim.bo[bufnr].filetype)
end

--- Remove the ghost text (the request in flight is left alone).
function M.clear(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = buf_state(bufnr)
  s.item = nil
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

local function cancel_pending(bufnr)
  local s = buf_state(bufnr)
  if s.timer then
    s.timer:stop()
    s.timer:close()
    s.timer = nil
  end
  if s.client and s.request_id then
    s.client:cancel_request(s.request_id)
    M.counters.cancelled = M.counters.cancelled + 1
  end
  s.client, s.request_id = nil, nil
end

--- Byte column of an LSP position's character on `line`.
local function byte_col(line, character, encoding)
  local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  return ok and col or #line
end

local function render(bufnr, item, encoding)
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  row = row - 1
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
  local text = item.insertText
  if type(text) == 'table' then
    text = text.value
  end
  if item.range then
    -- The range covers what the user already typed of the suggestion: show the rest.
    local start = item.range.start
    if start.line ~= row then
      return
    end
    local typed = line:sub(byte_col(line, start.character, encoding) + 1, col)
    if text:sub(1, #typed) ~= typed then
      return
    end
    text = text:sub(#typed + 1)
  end
  if text == '' then
    return
  end
  local lines = vim.split(text, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], M.config.hl_group } }
  end
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, {
    virt_text = { { lines[1], M.config.hl_group } },
    virt_text_pos = 'inline',
    virt_lines = #virt_lines > 0 and virt_lines or nil,
  })
  buf_state(bufnr).item = { lines = lines, row = row, col = col, command = item.command }
  M.counters.shown = M.counters.shown + 1
end

local function request(bufnr)
  local client = tta().get_client(bufnr)
  if not client or vim.api.nvim_get_current_buf() ~= bufnr or vim.fn.mode() ~= 'i' then
    return
  end
  local s = buf_state(bufnr)
  local encoding = client.offset_encoding
  local params = vim.lsp.util.make_position_params(0, encoding)
  params.context = { triggerKind = 2 } -- Automatic
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local cursor = vim.api.nvim_win_get_cursor(0)
  local ok, id
  ok, id = client:request('textDocument/inlineCompletion', params, function(err, result)
    if s.request_id == id then
      s.client, s.request_id = nil, nil
    end
    if err or not result then
      return
    end
    -- Stale: the user typed or moved since the request went out.
    if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or vim.fn.mode() ~= 'i' then
      return
    end
    local now = vim.api.nvim_win_get_cursor(0)
    if now[1] ~= cursor[1] or now[2] ~= cursor[2] then
      return
    end
    local items = result.items or result
    if type(items) == 'table' and items[1] then
      render(bufnr, items[1], encoding)
    end
  end, bufnr)
  if ok then
    s.client, s.request_id = client, id
    M.counters.requests = M.counters.requests + 1
  end
end

--- Ask again after the debounce, cancelling what is pending (called on every keystroke).
function M.trigger(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  M.clear(bufnr)
  cancel_pending(bufnr)
  if not enabled_for(bufnr) then
    return
  end
  local s = buf_state(bufnr)
  s.timer = uv.new_timer()
  s.timer:start(M.config.debounce_ms, 0, vim.schedule_wrap(function()
    if s.timer then
      s.timer:close()
      s.timer = nil
    end
    request(bufnr)
  end))
end

--- The ghost text shown in `bufnr` (lines), or nil.
function M.current(bufnr)
  local item = buf_state(bufnr or vim.api.nvim_get_current_buf()).item
  return item and item.lines or nil
end

--- Insert the suggestion at the cursor and report it; false when there is none.
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = buf_state(bufnr)
  local item = s.item
  if not item then
    return false
  end
  M.clear(bufnr)
  cancel_pending(bufnr)
  local lines = item.lines
  vim.api.nvim_buf_set_text(bufnr, item.row, item.col, item.row, item.col, lines)
  local last_row = item.row + #lines - 1
  local last_col = (#lines == 1 and item.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { last_row + 1, last_col })
  M.counters.accepted = M.counters.accepted + 1
  local client = tta().get_client(bufnr)
  if client and item.command then
    client:request('workspace/executeCommand', {
      command = item.command.command,
      arguments = item.command.arguments,
    }, function() end, bufnr)
  end
  return true
end

--- The key as if unmapped (when there is nothing to accept).
local function feed(key)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(key, true, false, true), 'n', false)
end

local function map_keys()
  local key = M.config.accept
  if key then
    -- Not an expr mapping: those run under textlock and may not insert text.
    vim.keymap.set('i', key, function()
      if not M.accept() then
        feed(key)
      end
    end, { desc = 'tta-codegen: accept the inline suggestion' })
  end
  if M.config.dismiss then
    vim.keymap.set('i', M.config.dismiss, function()
      M.clear()
      cancel_pending(vim.api.nvim_get_current_buf())
    end, { desc = 'tta-codegen: dismiss the inline suggestion' })
  end
end

--- Turn inline completion on or off (globally, or for one buffer with `bufnr`).
function M.toggle(bufnr)
  if bufnr then
    vim.b[bufnr].tta_completion = vim.b[bufnr].tta_completion == false
    if vim.b[bufnr].tta_completion == false then
      M.clear(bufnr)
      cancel_pending(bufnr)
    end
    return vim.b[bufnr].tta_completion
  else
    M.config.enabled = not M.config.enabled
  end
  if not M.config.enabled then
    for b in pairs(state) do
      M.clear(b)
      cancel_pending(b)
    end
  end
  return M.config.enabled
end

--- Called by require('tta_codegen').setup() with the user's `completion` table.
function M.setup(group, opts)
  M.config = vim.tbl_extend('force', vim.deepcopy(defaults), opts or {})
  if not M.config.enabled then
    return
  end
  local builtin = vim.lsp.inline_completion
  if M.config.builtin and builtin and builtin.enable then
    -- Neovim 0.12+: its own client draws and accepts; keep our accept key on it.
    builtin.enable(true)
    if M.config.accept then
      vim.keymap.set('i', M.config.accept, function()
        if not builtin.get() then
          feed(M.config.accept)
        end
      end, { desc = 'tta-codegen: accept the inline suggestion' })
    end
    M.builtin = true
    return
  end
  M.builtin = false
  vim.api.nvim_create_autocmd({ 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    callback = function(ev)
      if tta().get_client(ev.buf) then
        M.trigger(ev.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    callback = function(ev)
      M.clear(ev.buf)
      cancel_pending(ev.buf)
    end,
  })
  vim.api.nvim_create_autocmd('BufDelete', {
    group = group,
    callback = function(ev)
      cancel_pending(ev.buf)
      state[ev.buf] = nil
    end,
  })
  map_keys()
end

return M
