// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IRegistryTypes} from "./IDocumentRegistry.sol";

/// @title crossverify circulation trail
/// @notice The confidential half of the platform, beside the registry: verification receipts and disputes,
///         each public only as an opaque commitment or id and bytes sealed to the regulators (and, for a
///         dispute, to the issuer concerned). Nothing here names a document, an issuer or a purpose in the clear.
/// @dev Roles come from the registry: active verifiers record and dispute, an issuer's admin registers the issuer's
///      sealing and answer keys, and the registry's consortium alone (by quorum) sets the regulators' sealing keys.
///      Sealing keys are X25519 (32 bytes) or ML-KEM-768 + X25519 (1,216 bytes) HPKE public keys, the regulators'
///      all of one kind per epoch; an answer key is a secp256k1 public key (64 bytes, x || y).
interface ICirculation {
    /// @notice A dispute as stored: the address whose signature may answer it, when it was opened, and whether it
    ///         was answered. The address is the issuer's registered answer key moved by a tweak sealed inside the
    ///         dispute (`Q + t·G`): only the issuer, who holds the answer key's secret, can sign for it; the bank
    ///         and the regulators, who know the tweak, can check that it is the issuer's; nobody else can tell
    ///         which issuer it is.
    struct DisputeInfo {
        address answerKey;
        uint40 openedAt;
        bool answered;
    }

    /// @notice The circulation contract was deployed beside `registry`, governed by `consortium`.
    event CirculationDeployed(address indexed registry, address indexed consortium);
    /// @notice The regulators' sealing keys changed by the consortium's proposal `proposalId`; receipts and
    ///         disputes recorded from now on carry `epoch`. `jurisdictions[i]` is the jurisdiction of `keys[i]`.
    event RegulatorKeysChanged(uint32 indexed epoch, bytes[] keys, uint256 indexed proposalId, bytes32[] jurisdictions);
    /// @notice An issuer's admin registered the key disputes about the issuer's documents are sealed to, and the
    ///         key the answers to them derive from.
    event IssuerKeysSet(bytes11 indexed issuerId, bytes sealingKey, bytes answerKey);
    /// @notice An active verifier recorded receipts: their commitments, in order, and one envelope holding them all,
    ///         sealed to the regulator keys of `keyEpoch`.
    event ReceiptsSealed(address indexed verifier, uint32 indexed keyEpoch, bytes32[] commitments, bytes ciphertext);
    /// @notice An active verifier opened a dispute, sealed to the issuer concerned and the regulator keys of
    ///         `keyEpoch`.
    event DisputeOpened(bytes32 indexed disputeId, address indexed verifier, uint32 keyEpoch, bytes ciphertext);
    /// @notice A dispute was answered, sealed to the disputing bank and the regulator keys of `keyEpoch`.
    event DisputeAnswered(bytes32 indexed disputeId, uint32 keyEpoch, bytes ciphertext);

    /// @notice The registry address is zero.
    error CirculationZeroAddress();
    /// @notice The registry's consortium names another circulation contract.
    error CirculationConsortiumMismatch(address consortium, address circulationOfConsortium);
    /// @notice Only the registry's consortium may do this.
    error CirculationNotConsortium(address account);
    /// @notice Only an active verifier may do this.
    error CirculationNotVerifier(address account);
    /// @notice Only the issuer's admin may do this, while the issuer is active.
    error CirculationNotIssuerAdmin(bytes11 issuerId, address account);
    /// @notice A sealing key must be 32 bytes (X25519) or 1,216 (ML-KEM-768 + X25519), regulator keys all alike;
    ///         an answer key (index 1 of an issuer's keys) 64 bytes, a point of secp256k1. In the GM suite both are
    ///         SM2 public keys (64 bytes, a point of the SM2 curve).
    error CirculationInvalidKey(uint256 index, uint256 length);
    /// @notice Each regulator key comes with the code of its jurisdiction (non-zero; a jurisdiction may have several
    ///         regulators), each key once, 1 to 16 of them.
    error CirculationInvalidRegulatorKeys(uint256 keys, uint256 jurisdictions);
    /// @notice No regulator keys were set yet: nothing can be sealed.
    error CirculationNoRegulatorKeys();
    /// @notice A batch of receipts needs at least one commitment and a sealed payload.
    error CirculationBatchShape(uint256 commitments, uint256 ciphertextLength);
    /// @notice A commitment must not be zero.
    error CirculationEmptyReceipt(uint256 index);
    /// @notice A dispute needs a non-zero answer key and a sealed payload.
    error CirculationEmptyDispute();
    /// @notice This verifier already opened a dispute with this answer key.
    error CirculationDisputeExists(bytes32 disputeId);
    /// @notice No dispute has this id.
    error CirculationUnknownDispute(bytes32 disputeId);
    /// @notice The dispute was already answered.
    error CirculationDisputeAnswered(bytes32 disputeId);
    /// @notice The answer is not signed by the dispute's answer key.
    error CirculationAnswerNotAuthorised(bytes32 disputeId, address signer);
    /// @notice The function belongs to the other crypto suite than this deployment's, `suite` (1 standard, 2 GM).
    error CirculationSuiteMismatch(uint8 suite);
    /// @notice The chain's id is no longer `deployedOn`, the one SM2-signed answers were fixed for (a fork): they
    ///         are refused here.
    error CirculationChainIdChanged(uint256 deployedOn, uint256 chainId);

    /// @notice Set the regulators' sealing keys, one per regulator with its jurisdiction; starts a new key epoch.
    /// @dev Only the consortium calls it, carrying out a `SetRegulatorKeys` proposal `proposalId`.
    function setRegulatorKeys(bytes[] calldata keys, bytes32[] calldata jurisdictions, uint256 proposalId) external;

    /// @notice Revert with the error {setRegulatorKeys} would raise for these keys, called by the consortium.
    /// @dev The consortium calls it when the change is proposed, so an invalid proposal is refused at once.
    function checkRegulatorKeys(bytes[] calldata keys, bytes32[] calldata jurisdictions) external view;

    /// @notice Register, as the issuer's admin, the key disputes about the issuer's documents are sealed to and the
    ///         secp256k1 key (64 bytes, x || y; an SM2 key in the GM suite) their answer keys derive from.
    function setIssuerKeys(bytes11 issuerId, bytes calldata sealingKey, bytes calldata answerKey) external;

    /// @notice Record, as an active verifier, receipts sealed together to the current regulator keys. Events only.
    function recordSealedReceipts(bytes32[] calldata commitments, bytes calldata ciphertext) external;

    /// @notice Open, as an active verifier, a dispute sealed to the issuer concerned and the regulators.
    /// @param answerKey The address of the one-time key an answer must be signed with: the issuer's answer key moved
    ///        by a tweak sealed inside `ciphertext`, so that only the issuer concerned can answer.
    /// @return disputeId `keccak256(abi.encode(verifier, answerKey))`.
    function openDispute(address answerKey, bytes calldata ciphertext) external returns (bytes32 disputeId);

    /// @notice Answer a dispute with bytes sealed to the disputing bank and the regulators. Anyone may send it
    ///         (an issuer hides behind a relay); the dispute's answer key must sign it (EIP-712 `Answer`).
    function answerDispute(bytes32 disputeId, bytes calldata ciphertext, IRegistryTypes.Signature calldata signature)
        external;

    /// @notice {answerDispute} in the GM suite: the answer key (x, y), whose address is the last 20 bytes of
    ///         SM3(x || y), signs with SM2 the GM message of `Answer(bytes32 disputeId,bytes32 ciphertextHash)`
    ///         under this contract's domain, `ciphertextHash` being SM3(ciphertext) (docs/format.md).
    function answerDisputeSM2(bytes32 disputeId, bytes calldata ciphertext, bytes32 r, bytes32 s, bytes32 x, bytes32 y)
        external;

    /// @notice The registry whose members and issuers this contract trusts.
    function registry() external view returns (address);

    /// @notice The consortium that governs the registry, and this contract's regulator keys.
    function consortium() external view returns (address);

    /// @notice The current key epoch (0 before any keys were set), its regulator keys and their jurisdictions.
    function regulatorKeys() external view returns (uint32 epoch, bytes[] memory keys, bytes32[] memory jurisdictions);

    /// @notice The key disputes about `issuerId`'s documents are sealed to (empty if none was registered).
    function issuerSealingKey(bytes11 issuerId) external view returns (bytes memory);

    /// @notice The secp256k1 key (x || y) the answer keys of disputes about `issuerId`'s documents derive from.
    function issuerAnswerKey(bytes11 issuerId) external view returns (bytes memory);

    /// @notice A dispute; `openedAt == 0` if there is none with this id.
    function dispute(bytes32 disputeId) external view returns (DisputeInfo memory);

    /// @notice The EIP-712 digest the answer key signs to answer `disputeId` with `ciphertext`.
    function answerDigest(bytes32 disputeId, bytes calldata ciphertext) external view returns (bytes32);
}
