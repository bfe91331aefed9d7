// Lodestar's validator client as a Web3Signer client, for tests/acceptance/test_lodestar_signer.py.
//
// One run is one Lodestar validator client: its own ValidatorStore with a remote signer per pubkey, and
// its own slashing protection (Lodestar's, on LevelDB in a temporary directory, empty at start). Signing
// goes through ValidatorStore.signAttestation / signRandao / signBlock, which compute the signing root,
// check Lodestar's slashing protection, build the SignableMessage and call externalSignerPostSignature
// (@lodestar/validator 1.5.1, lib/services/validatorStore.js). The root printed beside each signature is
// computed here with the same Lodestar functions ValidatorStore uses (config.getDomain, computeSigningRoot);
// the signer compares the root Lodestar sends with its own, so a signature over any other root cannot
// come back.
//
// stdin:  a JSON array of requests, each with "url" (the signer's base URL) and one of
//           {"op": "upcheck"}                                   externalSignerUpCheck
//           {"op": "upcheckHeaders"}   externalSignerUpCheck against a local recorder instead of "url":
//                                      the Accept and Content-Type headers it sends
//           {"op": "publicKeys"}                                externalSignerGetKeys
//           {"op": "sign", "type": "ATTESTATION", "pubkey": "0x..", "attestation": {slot, index,
//            beacon_block_root, source: {epoch, root}, target: {epoch, root}}}   (the eth2 JSON of
//            AttestationData; signed with currentEpoch = target epoch)
//           {"op": "sign", "type": "RANDAO_REVEAL", "pubkey": "0x..", "slot": n}
//           {"op": "sign", "type": "BLOCK_V2", "pubkey": "0x..", "slot": n, "proposer_index": n,
//            "parent_root": "0x.."}   (a default full block of the slot's fork; currentSlot = slot)
//         An optional "network" (a Lodestar network name, mainnet by default) picks the chain config
//         and genesis validators root; the preset is Lodestar's default (mainnet).
// stdout: a JSON array with, for each request, {"up": bool}, {"accept": .., "contentType": ..},
//         {"publicKeys": [..]},
//         {"signingRoot": "0x..", "signature": "0x.."}, or {"error": message, "errorClass": name}
//         (Lodestar raises the signer's response body as the message of a plain Error).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIBeaconConfig } from '@lodestar/config'
import { genesisData, networksChainConfig } from '@lodestar/config/networks'
import { LevelDbController } from '@lodestar/db'
import { DOMAIN_BEACON_ATTESTER, DOMAIN_BEACON_PROPOSER, DOMAIN_RANDAO } from '@lodestar/params'
import {
  blindedOrFullBlockHashTreeRoot,
  computeEpochAtSlot,
  computeSigningRoot,
  computeStartSlotAtEpoch,
} from '@lodestar/state-transition'
import { ssz } from '@lodestar/types'
import {
  SignerType,
  SlashingProtection,
  ValidatorStore,
  externalSignerGetKeys,
  externalSignerUpCheck,
} from '@lodestar/validator'
import { fromHexString, toHexString } from '@chainsafe/ssz'

const configs = new Map()

function beaconConfig(network = 'mainnet') {
  if (!configs.has(network)) {
    const chainConfig = networksChainConfig[network]
    if (chainConfig === undefined) throw Error(`Lodestar knows no network ${network}`)
    const root = fromHexString(genesisData[network].genesisValidatorsRoot)
    configs.set(network, createIBeaconConfig(chainConfig, root))
  }
  return configs.get(network)
}

// One ValidatorStore per (network, url), sharing this run's slashing protection database.
class ValidatorClient {
  constructor(dbDir) {
    this.controller = new LevelDbController({ name: dbDir }, { metrics: null })
    this.stores = new Map()
  }

  async start() {
    await this.controller.start()
  }

  store(request) {
    const key = `${request.network ?? 'mainnet'} ${request.url}`
    if (!this.stores.has(key)) {
      const config = beaconConfig(request.network)
      const slashingProtection = new SlashingProtection({ config, controller: this.controller })
      const store = new ValidatorStore(config, slashingProtection, null, null, null, [])
      this.stores.set(key, { config, store })
    }
    const entry = this.stores.get(key)
    entry.store.addSigner({ type: SignerType.Remote, pubkey: request.pubkey, url: request.url })
    return entry
  }

  async stop() {
    await this.controller.stop()
  }
}

async function signAttestation({ config, store }, request) {
  const data = ssz.phase0.AttestationData.fromJson(request.attestation)
  const duty = {
    pubkey: fromHexString(request.pubkey),
    slot: data.slot,
    committeeIndex: data.index,
    committeeLength: 1,
    validatorCommitteeIndex: 0,
  }
  const domain = config.getDomain(computeStartSlotAtEpoch(data.target.epoch), DOMAIN_BEACON_ATTESTER)
  const signingRoot = computeSigningRoot(ssz.phase0.AttestationData, data, domain)
  const attestation = await store.signAttestation(duty, data, data.target.epoch)
  return { signingRoot, signature: attestation.signature }
}

async function signRandao({ config, store }, request) {
  const domain = config.getDomain(request.slot, DOMAIN_RANDAO)
  const signingRoot = computeSigningRoot(ssz.Epoch, computeEpochAtSlot(request.slot), domain)
  const signature = await store.signRandao(fromHexString(request.pubkey), request.slot)
  return { signingRoot, signature }
}

async function signBlock({ config, store }, request) {
  const block = config.getForkTypes(request.slot).BeaconBlock.defaultValue()
  block.slot = request.slot
  block.proposerIndex = request.proposer_index
  block.parentRoot = fromHexString(request.parent_root)
  const domain = config.getDomain(block.slot, DOMAIN_BEACON_PROPOSER)
  const objectRoot = blindedOrFullBlockHashTreeRoot(config, block)
  const signingRoot = ssz.phase0.SigningData.hashTreeRoot({ objectRoot, domain })
  const signed = await store.signBlock(fromHexString(request.pubkey), block, block.slot)
  return { signingRoot, signature: signed.signature }
}

const SIGNERS = { ATTESTATION: signAttestation, RANDAO_REVEAL: signRandao, BLOCK_V2: signBlock }

// The headers of the request externalSignerUpCheck sends, as a loopback server of this run receives them.
async function upcheckHeaders() {
  let seen
  const recorder = createServer((request, response) => {
    seen = { accept: request.headers.accept ?? null, contentType: request.headers['content-type'] ?? null }
    response.setHeader('content-type', 'application/json')
    response.end('{"status":"OK"}')
  })
  await new Promise((resolve) => recorder.listen(0, '127.0.0.1', resolve))
  try {
    await externalSignerUpCheck(`http://127.0.0.1:${recorder.address().port}`)
  } finally {
    recorder.closeAllConnections()
    await new Promise((resolve) => recorder.close(resolve))
  }
  return seen
}

async function answer(client, request) {
  switch (request.op) {
    case 'upcheck':
      return { up: await externalSignerUpCheck(request.url) }
    case 'upcheckHeaders':
      return await upcheckHeaders()
    case 'publicKeys':
      return { publicKeys: await externalSignerGetKeys(request.url) }
    case 'sign': {
      const sign = SIGNERS[request.type]
      if (sign === undefined) throw Error(`no signer for type ${request.type}`)
      const { signingRoot, signature } = await sign(client.store(request), request)
      return { signingRoot: toHexString(signingRoot), signature: toHexString(signature) }
    }
    default:
      throw Error(`unknown op ${request.op}`)
  }
}

const requests = JSON.parse(readFileSync(0, 'utf8'))
const dbDir = mkdtempSync(join(tmpdir(), 'lodestar-slashing-'))
const client = new ValidatorClient(dbDir)
const results = []
try {
  await client.start()
  for (const request of requests) {
    try {
      results.push(await answer(client, request))
    } catch (error) {
      results.push({ error: String(error?.message ?? error), errorClass: error?.constructor?.name ?? '' })
    }
  }
} finally {
  await client.stop()
  rmSync(dbDir, { recursive: true, force: true })
}
process.stdout.write(JSON.stringify(results))
