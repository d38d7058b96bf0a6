-- The version trap: the user types above the region while code streams in. Neovim drops a
-- versioned edit made against an older version (printing "newer than edits") yet answers
-- applied: true, so only a server that waits for each edit's didChange echo gets every
-- streamed character in exactly once.
--
-- To hit the trap on purpose, a key is typed right after each didChange goes out: the
-- server's next edit is then already stale when it arrives. Keys are also typed at a
-- steady pace, like a user who waits for nothing. `plain = true` runs the same without the
-- plugin: a bare vim.lsp.start() client and a raw executeCommand, as any LSP setup would.
local T = require('tta_test')
local p = T.params
local bufnr, client
if p.plain then
  bufnr, client = T.open_plain(p.file)
else
  -- No lenses: their refresh on InsertLeave sends a request, and every request flushes the
  -- pending didChange at once, so the server would see each key before its next edit and
  -- the trap would not be hit (good for users, but this case is about the trap).
  T.setup({ codelens = false })
  bufnr, client = T.open(p.file)
end

local before = vim.api.nvim_buf_line_count(bufnr)
local typed = p.typed
local i = 0
local function type_key()
  if i >= #typed or #T.result.done > 0 then
    return
  end
  i = i + 1
  vim.cmd('normal! 1GA' .. typed:sub(i, i))
  if i == math.floor(#typed / 2) then
    vim.cmd('normal! 1Go' .. p.new_line)
  end
end
T.log_conversation(function()
  if vim.api.nvim_buf_line_count(bufnr) > before then
    type_key()
  end
end)

vim.api.nvim_win_set_cursor(0, { p.line, 0 })
if p.plain then
  T.generate_plain(client, bufnr, p.description)
else
  vim.cmd('TTAGenerate ' .. p.description)
end
T.wait(function()
  return vim.api.nvim_buf_line_count(bufnr) > before
end, 'the first streamed lines')
T.mark('first_edit')
while i < #typed and #T.result.done == 0 do
  type_key()
  vim.wait(p.pause_ms)
end
T.mark('typed')
T.signal('typed') -- the fake holds the end of the stream until now
T.result.typed_keys = i
T.result.streaming_when_typing_ended = #T.result.done == 0
T.wait_done(1)
vim.cmd.write()
