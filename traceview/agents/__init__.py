"""Agent types: the registry (owners, budgets, tool scope), model prices, the tool-scope audit
(pure rules, stored violations and their page) and the evaluation of an agent's versions."""
