-- :TTAStats after a generation shows the model's numbers in a scratch buffer.
local T = require('tta_test')
T.setup()
local bufnr, client = T.open(T.params.file)
T.require_command(client, 'tta.stats')
vim.cmd('TTAGenerate ' .. T.params.description)
T.wait_done(1)
vim.cmd('TTAStats')
T.wait_done(2)
T.result.stats_lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
T.result.stats_is_scratch = vim.bo.buftype == 'nofile'
