-- Cancel while code streams in: the server restores the buffer exactly. With the plugin
-- (:TTACancel), or with `plain = true` a bare client's client:cancel_request().
local T = require('tta_test')
local p = T.params
local bufnr, client, request_id
if p.plain then
  bufnr, client = T.open_plain(p.file)
else
  T.setup()
  bufnr = T.open(p.file)
end
T.log_conversation()
local before = vim.api.nvim_buf_line_count(bufnr)
vim.api.nvim_win_set_cursor(0, { p.line, 0 })
if p.plain then
  request_id = T.generate_plain(client, bufnr, p.description)
else
  vim.cmd('TTAGenerate ' .. p.description)
end
T.wait(function()
  return vim.api.nvim_buf_line_count(bufnr) >= before + 2
end, 'two streamed lines')
T.result.streamed_before_cancel = vim.api.nvim_buf_line_count(bufnr) - before
if p.plain then
  client:cancel_request(request_id)
  -- Neovim swallows the RequestCancelled answer; the server ends its progress once the
  -- buffer is restored.
  T.wait(function()
    for _, v in ipairs(T.result.lsp_progress) do
      if v.kind == 'end' and v.message == 'cancelled' then
        return true
      end
    end
  end, 'the cancelled progress to end')
  T.result.done[#T.result.done + 1] = { command = 'tta.generate', status = 'cancelled' }
else
  T.result.jobs_before_cancel = #require('tta_codegen').jobs()
  vim.cmd('TTACancel')
  T.wait_done()
  T.result.jobs_after = #require('tta_codegen').jobs()
end
vim.cmd.write()
-- Nothing arrives after the cancel was settled. A request answered after it is the
-- barrier, not a pause: the server's messages reach Neovim in order, so an edit it still
-- had in flight is applied before this answer is read.
local barrier = vim.lsp.get_clients({ bufnr = bufnr })[1]:request_sync(
  'workspace/executeCommand',
  { command = 'tta.stats', arguments = { vim.empty_dict() } },
  T.HANG_GUARD_MS, -- a hang guard: answered in milliseconds idle
  bufnr
)
assert(barrier and barrier.result, 'tta.stats after the cancel: ' .. vim.inspect(barrier))
T.result.text_later = T.text(bufnr)
