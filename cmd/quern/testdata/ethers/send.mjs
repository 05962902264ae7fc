// Sends QRN on a quern devnet with ethers.js, as a wallet would: read the
// balance, send an EIP-1559 and a legacy transfer signed by ethers, wait for
// their receipts. Run by cmd/quern/ethers_test.go with QUERN_RPC,
// QUERN_KEY (hex private key) and QUERN_TO set; prints one JSON line.
import { ethers } from "ethers";

const rpc = process.env.QUERN_RPC, key = process.env.QUERN_KEY, to = process.env.QUERN_TO;
// cacheTimeout -1: ethers reuses an identical answer for 250 ms by default,
// and a devnet block can land within that (a stale "pending" nonce).
const provider = new ethers.JsonRpcProvider(rpc, undefined, { polling: true, cacheTimeout: -1 });
provider.pollingInterval = 200;
const wallet = new ethers.Wallet(key, provider);

const network = await provider.getNetwork();
const before = await provider.getBalance(wallet.address);
const fees = await provider.getFeeData();
const block = await provider.getBlock("latest");

const sent1559 = await wallet.sendTransaction({ to, value: ethers.parseEther("1.5") });
const r1559 = await sent1559.wait(1, 120000);
const sentLegacy = await wallet.sendTransaction({ to, value: ethers.parseEther("0.25"), type: 0 });
const rLegacy = await sentLegacy.wait(1, 120000);
const fetched = await provider.getTransaction(sent1559.hash);
const after = await provider.getBalance(to);

console.log(JSON.stringify({
  chainId: network.chainId.toString(),
  from: wallet.address,
  before: before.toString(),
  gasPrice: fees.gasPrice.toString(),
  baseFeePerGas: block.baseFeePerGas.toString(),
  tx1559: { hash: sent1559.hash, type: r1559.type, status: r1559.status, block: r1559.blockNumber,
            gasUsed: r1559.gasUsed.toString(), fee: r1559.fee.toString() },
  txLegacy: { hash: sentLegacy.hash, type: rLegacy.type, status: rLegacy.status, block: rLegacy.blockNumber },
  fetchedFrom: fetched.from,
  toBalance: after.toString(),
}));
provider.destroy();
