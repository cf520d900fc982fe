-- Commands of sigdump.nvim. Nothing connects until require('sigdump').setup{...}.
if vim.g.loaded_sigdump then return end
vim.g.loaded_sigdump = true

vim.api.nvim_create_user_command('SigdumpStatus', function()
  print(require('sigdump').status_text())
end, { desc = 'sigdump: connection and first bad layer of every pair' })

vim.api.nvim_create_user_command('SigdumpReconnect', function()
  local sigdump = require('sigdump')
  sigdump.setup(sigdump.options())
end, { desc = 'sigdump: drop the connection and connect again (resuming from the last clock)' })
