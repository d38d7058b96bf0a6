-- Two commands finish before the case waits for either (as a :TTADiff's tta.listPending and
-- the tta.diff its answer sends can, a millisecond apart): T.wait_done() still returns each
-- of them in turn, and does not wait for a third that never comes.
local T = require('tta_test')
T.setup()
T.open(T.params.file)
vim.cmd('TTAPending')
vim.cmd('TTAPending')
T.wait(function()
  return #T.result.done >= 2
end, 'both tta.listPending answers')
T.result.first = T.wait_done()
T.result.second = T.wait_done()
