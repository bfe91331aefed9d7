// Signing roots as Lodestar's current SSZ types compute them: a second implementation of every Web3Signer
// signing type's message container (ChainSafe's @chainsafe/ssz through @lodestar/types), beside our own.
// Input on stdin: a JSON list of {body, genesis_fork_version}; output: a JSON list of "0x..." roots, or
// {"error": "..."} for a body Lodestar's types refuse. The preset comes from LODESTAR_PRESET.
import * as params from "@lodestar/params";
import {ssz} from "@lodestar/types";

const bytes = (text) => Uint8Array.from(Buffer.from(text.replace(/^0x/, ""), "hex"));
const hex = (raw) => "0x" + Buffer.from(raw).toString("hex");
const ZERO_ROOT = new Uint8Array(32);

// Lodestar reads most uint64 fields as JavaScript numbers, bounded by 2**53; the spec's containers hold any
// uint64 (sign.yaml's blocks are random data, with indices above 2**53). uint64Fields rebuilds a type with
// every uint64 read as a bigint: the same schema, so the same hash_tree_root.
const UintNumberType = ssz.UintNum64.constructor;
const ContainerType = ssz.phase0.BeaconBlockHeader.constructor;
const ListCompositeType = ssz.phase0.BeaconBlockBody.fields.attestations.constructor;
const ListBasicType = ssz.phase0.IndexedAttestation.fields.attestingIndices.constructor;

function uint64Fields(type) {
  if (type instanceof UintNumberType && type.byteLength === 8) return ssz.UintBn64;
  if (type instanceof ContainerType) {
    const fields = Object.fromEntries(Object.entries(type.fields).map(([name, field]) => [name, uint64Fields(field)]));
    return new ContainerType(fields, {typeName: type.typeName, jsonCase: "eth2"});
  }
  if (type instanceof ListCompositeType) return new ListCompositeType(uint64Fields(type.elementType), type.limit);
  if (type instanceof ListBasicType) return new ListBasicType(uint64Fields(type.elementType), type.limit);
  return type;
}

// Web3Signer reads camelCase keys as well (sign.yaml's BLOCK example uses them); Lodestar reads snake_case.
const snakeCase = (name) => name.replace(/[A-Z]/g, (letter) => "_" + letter.toLowerCase());
function snakeKeys(value) {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([name, field]) => [snakeCase(name), snakeKeys(field)]));
}

function computeDomain(domainType, forkVersion, genesisValidatorsRoot) {
  const forkDataRoot = ssz.phase0.ForkData.hashTreeRoot({
    currentVersion: forkVersion,
    genesisValidatorsRoot,
  });
  const domain = new Uint8Array(32);
  domain.set(domainType, 0);
  domain.set(forkDataRoot.subarray(0, 28), 4);
  return domain;
}

function forkDomain(body, domainType, epoch) {
  const {fork, genesis_validators_root: genesisValidatorsRoot} = body.fork_info;
  const version = BigInt(epoch) < BigInt(fork.epoch) ? fork.previous_version : fork.current_version;
  return computeDomain(domainType, bytes(version), bytes(genesisValidatorsRoot));
}

const epochOfSlot = (slot) => BigInt(slot) / BigInt(params.SLOTS_PER_EPOCH);
const forkTypes = (version) => ssz[version.toLowerCase().replace(" ", "")];

function message(body, genesisForkVersion) {
  switch (body.type) {
    case "BLOCK": {
      const block = body.block;
      const domain = forkDomain(body, params.DOMAIN_BEACON_PROPOSER, epochOfSlot(block.slot));
      return [ssz.phase0.BeaconBlock, block, domain];
    }
    case "BLOCK_V2": {
      const {version, block, block_header: header} = body.beacon_block;
      const [type, value] = header ? [ssz.phase0.BeaconBlockHeader, header] : [forkTypes(version).BeaconBlock, block];
      const domain = forkDomain(body, params.DOMAIN_BEACON_PROPOSER, epochOfSlot(value.slot));
      return [type, value, domain];
    }
    case "ATTESTATION": {
      const data = body.attestation;
      return [ssz.phase0.AttestationDataBigint, data, forkDomain(body, params.DOMAIN_BEACON_ATTESTER, data.target.epoch)];
    }
    case "AGGREGATION_SLOT": {
      const slot = body.aggregation_slot.slot;
      return [ssz.Slot, slot, forkDomain(body, params.DOMAIN_SELECTION_PROOF, epochOfSlot(slot))];
    }
    case "AGGREGATE_AND_PROOF":
    case "AGGREGATE_AND_PROOF_V2": {
      const v2 = body.type === "AGGREGATE_AND_PROOF_V2";
      const value = v2 ? body.aggregate_and_proof.data : body.aggregate_and_proof;
      const fork = v2 ? body.aggregate_and_proof.version.toLowerCase() : "phase0";
      const types = ["phase0", "altair", "bellatrix", "capella", "deneb"].includes(fork) ? ssz.phase0 : ssz[fork];
      const epoch = epochOfSlot(value.aggregate.data.slot);
      return [types.AggregateAndProof, value, forkDomain(body, params.DOMAIN_AGGREGATE_AND_PROOF, epoch)];
    }
    case "DEPOSIT": {
      const deposit = body.deposit;
      const domain = computeDomain(params.DOMAIN_DEPOSIT, bytes(genesisForkVersion), ZERO_ROOT);
      return [ssz.phase0.DepositMessage, deposit, domain];
    }
    case "RANDAO_REVEAL": {
      const epoch = body.randao_reveal.epoch;
      return [ssz.Epoch, epoch, forkDomain(body, params.DOMAIN_RANDAO, epoch)];
    }
    case "VOLUNTARY_EXIT": {
      const exit = body.voluntary_exit;
      return [ssz.phase0.VoluntaryExit, exit, forkDomain(body, params.DOMAIN_VOLUNTARY_EXIT, exit.epoch)];
    }
    case "SYNC_COMMITTEE_MESSAGE": {
      const {beacon_block_root: root, slot} = body.sync_committee_message;
      return [ssz.Root, root, forkDomain(body, params.DOMAIN_SYNC_COMMITTEE, epochOfSlot(slot))];
    }
    case "SYNC_COMMITTEE_SELECTION_PROOF": {
      const data = body.sync_aggregator_selection_data;
      const domain = forkDomain(body, params.DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF, epochOfSlot(data.slot));
      return [ssz.altair.SyncAggregatorSelectionData, data, domain];
    }
    case "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF": {
      const value = body.contribution_and_proof;
      const domain = forkDomain(body, params.DOMAIN_CONTRIBUTION_AND_PROOF, epochOfSlot(value.contribution.slot));
      return [ssz.altair.ContributionAndProof, value, domain];
    }
    case "VALIDATOR_REGISTRATION": {
      const domain = computeDomain(params.DOMAIN_APPLICATION_BUILDER, bytes(genesisForkVersion), ZERO_ROOT);
      return [ssz.bellatrix.ValidatorRegistrationV1, body.validator_registration, domain];
    }
    default:
      throw new Error(`no Lodestar type for ${body.type}`);
  }
}

function signingRoot({body, genesis_fork_version: genesisForkVersion}) {
  try {
    const [type, json, domain] = message(snakeKeys(body), genesisForkVersion);
    const wide = uint64Fields(type);
    const objectRoot = wide.hashTreeRoot(wide.fromJson(json));
    return hex(ssz.phase0.SigningData.hashTreeRoot({objectRoot, domain}));
  } catch (error) {
    return {error: String(error.message ?? error)};
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const requests = JSON.parse(Buffer.concat(chunks).toString());
process.stdout.write(JSON.stringify(requests.map(signingRoot)));
