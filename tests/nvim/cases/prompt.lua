-- :TTAPrompt: pick a template (vim.ui.select) and fill in its variables (vim.ui.input),
-- both answered here as a user would, then the generation runs at the cursor.
local T = require('tta_test')
T.setup()
local bufnr, client = T.open(T.params.file)
T.require_command(client, 'tta.listPrompts')
T.result.asked = {}
vim.ui.select = function(items, opts, on_choice)
  local pick
  for _, t in ipairs(items) do
    local required = vim.tbl_filter(function(v)
      return v.required
    end, t.variables or {})
    if #required > 0 and not pick then
      pick = t
    end
  end
  pick = pick or items[1]
  T.result.template = pick.id
  T.result.shown = opts.format_item(pick)
  T.result.choices = #items
  on_choice(pick, 1)
end
vim.ui.input = function(opts, on_confirm)
  T.result.asked[#T.result.asked + 1] = opts.prompt
  -- Enter on a prefilled default; our value where there is none.
  on_confirm(opts.default or T.params.value)
end
vim.api.nvim_win_set_cursor(0, { T.params.line, 0 })
vim.cmd('TTAPrompt ' .. T.params.description)
T.wait_done(2) -- tta.listPrompts, then tta.generate
vim.cmd.write()
