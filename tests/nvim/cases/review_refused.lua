-- Discard after an edit inside the pending change is refused (vim.ui.select offers
-- "Discard anyway"); :TTADiscard! forces it. Then the same through the Discard lens.
local T = require('tta_test')
T.setup()
local bufnr = T.open(T.params.file)
T.result.original = T.text(bufnr)

local function generate(line, description)
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  vim.cmd('TTAGenerate ' .. description)
  local done = T.wait_done()
  local lenses = T.wait_lenses(bufnr, function(ls)
    return T.has_title(ls, '^Accept$') ~= nil
  end, 'the review lenses')
  return done, T.has_title(lenses, '^Accept$').line
end

-- 1. :TTADiscard refused, the user picks Cancel; :TTADiscard! forces it.
local _, row = generate(T.params.line, T.params.description)
-- The change starts with the blank line PEP 8 wants above the function: row + 2 is its body.
vim.api.nvim_buf_set_text(bufnr, row + 2, 0, row + 2, 0, { '    # mine' , '' })
T.result.edited = T.text(bufnr)
vim.api.nvim_win_set_cursor(0, { row + 3, 0 })
T.choose({ 'Cancel' })
vim.cmd('TTADiscard')
T.wait_done() -- tta.listPending
T.result.refused = T.wait_done()
T.result.after_refused = T.text(bufnr)
vim.cmd('TTADiscard!')
T.wait_done()
T.result.forced = T.wait_done()
T.result.after_forced = T.text(bufnr)

-- 2. The Discard lens, refused, then "Discard anyway" from the offer.
_, row = generate(T.params.line, T.params.description)
vim.api.nvim_buf_set_text(bufnr, row + 1, 0, row + 1, 0, { 'x = 1  # mine', '' })
T.run_lens(bufnr, 'Discard', { 'Discard anyway' })
T.result.lens_refused = T.wait_done()
T.result.lens_forced = T.wait_done()
T.result.after_lens_forced = T.text(bufnr)
T.wait_lenses(bufnr, function(ls)
  return #ls == 0
end, 'the lenses to go')
vim.cmd.write()
