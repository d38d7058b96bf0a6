-- A code action on a selection, applied through vim.lsp.buf.code_action() with a filter:
-- the plugin adds nothing for this, the server's actions are plain LSP.
local T = require('tta_test')
T.setup()
local bufnr, client = T.open(T.params.file)
local l1, l2 = T.params.line1, T.params.line2
local last = vim.api.nvim_buf_get_lines(bufnr, l2 - 1, l2, false)[1]
-- What the server offers for these lines (the same request code_action() makes).
local params = vim.lsp.util.make_given_range_params({ l1, 0 }, { l2, #last - 1 }, bufnr, client.offset_encoding)
params.context = { diagnostics = {}, only = { 'refactor.rewrite' } }
local answer = client:request_sync('textDocument/codeAction', params, T.HANG_GUARD_MS, bufnr)
local actions = answer and answer.result or {}
if type(actions) ~= 'table' or #actions == 0 then
  T.skip('the server offers no refactor.rewrite code actions on a selection yet')
end
T.result.titles = vim.tbl_map(function(a)
  return a.title
end, actions)
local chosen
for _, a in ipairs(actions) do
  local cmd = a.command
  if type(cmd) == 'table' and cmd.command == 'tta.refine' and T.supports(client, 'tta.refine') then
    chosen = a.title
    break
  end
end
if not chosen then
  T.skip('no code action runs tta.refine yet (offered: ' .. table.concat(T.result.titles, ', ') .. ')')
end
T.result.chosen = chosen
vim.lsp.buf.code_action({
  context = { diagnostics = {}, only = { 'refactor.rewrite' } },
  range = { start = { l1, 0 }, ['end'] = { l2, #last - 1 } },
  filter = function(a)
    return a.title == chosen
  end,
  apply = true,
})
T.wait_done()
vim.cmd.write()
