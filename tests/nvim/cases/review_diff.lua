-- :TTADiff opens the original in a scratch split, diff mode against the buffer; q closes
-- it. Then :TTARegenerate reruns the request, :TTAPending lists the change.
local T = require('tta_test')
T.setup()
local bufnr = T.open(T.params.file)
T.result.original = T.text(bufnr)
vim.api.nvim_win_set_cursor(0, { T.params.line, 0 })
vim.cmd('TTAGenerate ' .. T.params.description)
T.result.generate = T.wait_done()
T.result.after_generate = T.text(bufnr)
local lens = T.has_title(T.wait_lenses(bufnr, function(ls)
  return T.has_title(ls, '^Diff$') ~= nil
end, 'the review lenses'), '^Diff$')
vim.api.nvim_win_set_cursor(0, { lens.line + 1, 0 })

local function windows()
  local out = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local buf = vim.api.nvim_win_get_buf(win)
    out[#out + 1] = {
      live = buf == bufnr,
      diff = vim.wo[win].diff,
      buftype = vim.bo[buf].buftype,
      filetype = vim.bo[buf].filetype,
      modifiable = vim.bo[buf].modifiable,
      name = vim.api.nvim_buf_get_name(buf),
      text = T.text(buf),
      current = win == vim.api.nvim_get_current_win(),
    }
  end
  return out
end

vim.cmd('TTADiff')
T.wait_done() -- tta.listPending
T.result.diff = T.wait_done()
T.wait(function()
  return #vim.api.nvim_tabpage_list_wins(0) == 2
end, 'the diff split')
T.result.diff_windows = windows()
vim.api.nvim_feedkeys('q', 'x', false)
T.result.after_q = windows()

-- The Diff lens opens the same view.
T.run_lens(bufnr, 'Diff')
T.wait_done()
T.wait(function()
  return #vim.api.nvim_tabpage_list_wins(0) == 2
end, 'the diff split from the lens')
T.result.lens_diff_windows = windows()
vim.cmd('quit') -- :q in the scratch window also ends diff mode in the file's window
T.wait(function()
  local wins = vim.api.nvim_tabpage_list_wins(0)
  return #wins == 1 and not vim.wo[wins[1]].diff
end, 'the diff split to close and diff mode to end')
T.result.after_quit = windows()

vim.api.nvim_win_set_cursor(0, { lens.line + 1, 0 })
vim.cmd('TTARegenerate')
T.wait_done()
T.result.regenerate = T.wait_done()
T.result.after_regenerate = T.text(bufnr)
T.wait_lenses(bufnr, function(ls)
  return T.has_title(ls, '^Accept$') ~= nil
end, 'the lenses after Regenerate')

vim.cmd('TTAPending')
T.wait_done()
T.result.qf = vim.tbl_map(function(item)
  return { lnum = item.lnum, text = item.text, file = vim.api.nvim_buf_get_name(item.bufnr) }
end, vim.fn.getqflist())
T.result.qf_title = vim.fn.getqflist({ title = 1 }).title

-- With diff = 'float': the unified diff in a floating window.
vim.cmd('cclose')
require('tta_codegen').config.diff = 'float'
vim.api.nvim_win_set_cursor(0, { lens.line + 1, 0 })
vim.cmd('TTADiff')
T.wait_done()
T.result.float_diff = T.wait_done()
for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
  if vim.api.nvim_win_get_config(win).relative ~= '' then
    local buf = vim.api.nvim_win_get_buf(win)
    T.result.float = { filetype = vim.bo[buf].filetype, text = T.text(buf) }
  end
end
