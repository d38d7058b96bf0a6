-- Not a test: the benchmark case behind `python -m benchmarks completion-editor`
-- (benchmarks/completion_editor_bench.py). With the server's zero config (the embedded
-- model) and the plugin's defaults, the user types a function signature key by key through
-- the real input loop, then pauses; the figure is the pause (the last key's TextChangedI)
-- to the ghost-text extmark being set, polled every POLL_MS. A first signature loads the
-- model and is not counted. Each suggestion is accepted (the file stays code the model can
-- read on), and the next signature goes two lines below. A run that shows nothing within
-- `run_guard_ms` counts as a miss (the model had nothing to suggest, or the machine was
-- starved), not as a failure.
local T = require('tta_test')
local p = T.params
local POLL_MS = 2
T.setup({ codelens = false })
local bufnr = T.open(p.file)
local C = require('tta_codegen.completion')
local ns = vim.api.nvim_get_namespaces().tta_codegen_completion
-- Every signature starts at column 0 (Python's indent script would indent after a body).
vim.bo[bufnr].indentexpr = ''
vim.bo[bufnr].autoindent = false
vim.bo[bufnr].smartindent = false
if C.builtin then
  T.skip('Neovim has vim.lsp.inline_completion: the built-in client is used')
end

local last_change = 0
vim.api.nvim_create_autocmd('TextChangedI', {
  buffer = bufnr,
  callback = function()
    last_change = vim.uv.hrtime()
  end,
})

local function ghost_shown()
  return #vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, {}) > 0 and C.current(bufnr) ~= nil
end

T.result.pause_to_ghost_ms = {}
T.result.ghosts = {}
T.result.misses = 0
T.defer()

-- Type `signature` on a new line at the end, pause, accept what is shown, and call
-- done(ms or nil, ghost lines).
local function type_and_pause(signature, guard_ms, done)
  vim.api.nvim_input('<Esc>Go<CR>')
  local i = 0
  local function key()
    i = i + 1
    vim.api.nvim_input(signature:sub(i, i))
    if i < #signature then
      return T.step(p.key_interval_ms, key)
    end
    T.step_until(function()
      return vim.api.nvim_get_current_line() == signature
    end, 'the last key to land', function()
      local started = last_change
      local deadline = vim.uv.now() + guard_ms
      local function poll()
        if ghost_shown() then
          local ms, ghost = (vim.uv.hrtime() - started) / 1e6, C.current(bufnr)
          vim.api.nvim_input('<M-l>')
          return T.step(50, function()
            done(ms, ghost)
          end)
        end
        if vim.uv.now() > deadline then
          return done(nil, nil)
        end
        T.step(POLL_MS, poll)
      end
      poll()
    end)
  end
  T.step(50, key)
end

local function run(n)
  if n > #p.signatures then
    T.finish()
    return
  end
  type_and_pause(p.signatures[n], p.run_guard_ms, function(ms, ghost)
    if ms then
      T.result.pause_to_ghost_ms[#T.result.pause_to_ghost_ms + 1] = ms
      T.result.ghosts[#T.result.ghosts + 1] = ghost
    else
      T.result.misses = T.result.misses + 1
    end
    run(n + 1)
  end)
end

T.step(0, function()
  -- The first suggestion loads the model: waited for (up to the hang guard), not counted.
  type_and_pause(p.warmup, T.HANG_GUARD_MS, function(ms, ghost)
    T.result.warmup_ms = ms
    T.result.warmup_ghost = ghost
    T.mark('warm')
    run(1)
  end)
end)
