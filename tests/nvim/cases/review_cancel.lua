-- While code streams, the lens reads "Generating… (model, N tokens)" with a Cancel lens;
-- running Cancel stops the generation and puts the buffer back.
local T = require('tta_test')
T.setup()
local bufnr = T.open(T.params.file)
T.result.original = T.text(bufnr)
local before = vim.api.nvim_buf_line_count(bufnr)
vim.api.nvim_win_set_cursor(0, { T.params.line, 0 })
vim.cmd('TTAGenerate ' .. T.params.description)
local lenses = T.wait_lenses(bufnr, function(ls)
  local g = T.has_title(ls, '^Generating')
  return g ~= nil and g.title:find('[1-9]%d* tokens') ~= nil
end, 'a Generating lens with a token count')
T.result.streaming_lenses = lenses
T.wait(function()
  return vim.api.nvim_buf_line_count(bufnr) >= before + 2
end, 'two streamed lines')
T.run_lens(bufnr, 'Cancel')
T.result.generate = T.wait_done()
T.result.after_cancel = T.text(bufnr)
T.result.lenses_after = T.wait_lenses(bufnr, function(ls)
  return #ls == 0
end, 'the lenses to go after Cancel')
vim.cmd.write()
