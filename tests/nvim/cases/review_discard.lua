-- Review mode (the default): :TTAGenerate leaves a pending change with lenses; the Discard
-- lens, run through vim.lsp.codelens.run(), puts the original back; :write writes it.
local T = require('tta_test')
T.setup()
local bufnr, client = T.open(T.params.file)
T.count_lens_refreshes(client)
T.result.original = T.text(bufnr)
vim.api.nvim_win_set_cursor(0, { T.params.line, 0 })
vim.cmd('TTAGenerate ' .. T.params.description)
T.result.generate = T.wait_done()
T.result.after_generate = T.text(bufnr)
T.result.lenses = T.wait_lenses(bufnr, function(ls)
  return T.has_title(ls, '^Accept$') ~= nil
end, 'the review lenses')
T.result.virt_text = T.lens_virt_text(bufnr, client)
T.result.refreshes_before_discard = T.result.lens_refreshes
T.run_lens(bufnr, 'Discard')
T.result.discard = T.wait_done()
T.result.after_discard = T.text(bufnr)
T.result.lenses_after = T.wait_lenses(bufnr, function(ls)
  return #ls == 0
end, 'the lenses to go after Discard')
T.result.virt_text_after = T.lens_virt_text(bufnr, client)
vim.cmd.write()
