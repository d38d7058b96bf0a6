-- Outcomes from a real Neovim: Accept through the lens, rewrite half of the accepted
-- function, save, leave it alone; then a second generation regenerated and discarded.
-- The test reads the ledger the server wrote.
local T = require('tta_test')
T.setup()
local bufnr = T.open(T.params.file)
T.result.generate = T.generate_for_review(bufnr)
T.decide(bufnr, 'Accept')
-- Rewrite the second half of the function, as a user would, and save.
vim.api.nvim_buf_set_lines(bufnr, T.params.rewrite_from, T.params.rewrite_to, false, T.params.rewrite_with)
vim.cmd.write()
T.result.after_edit = T.text(bufnr)
-- Left alone: the server measures again after [outcomes] retention_idle_s; the test
-- process sees the row in the ledger.
T.wait_signal('idle retention')
-- A second generation at the top, discarded.
T.result.generate2 = T.generate_for_review(bufnr, 1)
-- Regenerate it (:TTARegenerate on the change), then Discard the new attempt.
vim.api.nvim_win_set_cursor(0, { 1, 0 })
vim.cmd('TTARegenerate')
T.wait(function()
  for _, d in ipairs(T.result.done) do
    if d.command == 'tta.regenerate' then
      T.result.regenerate = d
      return true
    end
  end
  return false
end, 'the regeneration to finish')
T.wait_lenses(bufnr, function(ls)
  return T.has_title(ls, '^Discard$') ~= nil
end, 'the review lenses after Regenerate')
T.decide(bufnr, 'Discard')
T.result.after_discard = T.text(bufnr)
