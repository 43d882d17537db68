// The real JSON-RPC node of the node test tier: Hardhat 2's network, started directly (not through npx) so
// that the process the tests hold is the server. Zero base fee lets the tier send gas-price-zero transactions,
// as gasless permissioned networks (Besu, GoQuorum) expect. HARDHAT_CACHE keeps its cache out of the tree.
module.exports = {
  paths: { cache: process.env.HARDHAT_CACHE || "cache" },
  networks: { hardhat: { chainId: 1337, initialBaseFeePerGas: 0, gasPrice: 0 } },
};
