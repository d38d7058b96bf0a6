-- :TTAGenerate at the cursor, wait, :write; then one :undo must give back the original.
local T = require('tta_test')
T.setup()
local bufnr, client = T.open(T.params.file)
T.result.offset_encoding = client.offset_encoding
vim.api.nvim_win_set_cursor(0, { T.params.line, 0 })
vim.cmd('TTAGenerate ' .. T.params.description)
local done = T.wait_done()
vim.cmd.write()
T.result.modified_after_write = vim.bo[bufnr].modified
vim.cmd('silent undo')
T.result.after_undo = T.text(bufnr)
-- :checkhealth tta_codegen runs and finds the client.
vim.cmd('checkhealth tta_codegen')
T.result.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
