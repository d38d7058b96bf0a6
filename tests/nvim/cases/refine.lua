-- :{range}TTARefine on whole lines: the range is rewritten in place.
local T = require('tta_test')
T.setup()
local bufnr, client = T.open(T.params.file)
T.require_command(client, 'tta.refine')
vim.cmd(('%d,%dTTARefine %s'):format(T.params.line1, T.params.line2, T.params.instruction))
T.wait_done()
vim.cmd.write()
