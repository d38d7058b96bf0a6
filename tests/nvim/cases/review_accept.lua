-- The Accept lens keeps the text and removes the lenses; the generation is still one undo step.
local T = require('tta_test')
T.setup()
local bufnr, client = T.open(T.params.file)
T.result.original = T.text(bufnr)
vim.api.nvim_win_set_cursor(0, { T.params.line, 0 })
vim.cmd('TTAGenerate ' .. T.params.description)
T.result.generate = T.wait_done()
T.wait_lenses(bufnr, function(ls)
  return T.has_title(ls, '^Accept$') ~= nil
end, 'the review lenses')
T.run_lens(bufnr, 'Accept')
T.wait_lenses(bufnr, function(ls)
  return #ls == 0
end, 'the lenses to go after Accept')
T.result.virt_text_after = T.lens_virt_text(bufnr, client)
T.result.after_accept = T.text(bufnr)
-- Nothing is pending any more.
vim.cmd('TTAPending')
T.wait_done()
T.result.qf_after_accept = #vim.fn.getqflist()
vim.cmd.write()
vim.cmd('silent undo')
T.result.after_undo = T.text(bufnr)
