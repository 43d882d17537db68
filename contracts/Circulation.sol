// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ICirculation} from "./ICirculation.sol";
import {IConsortium} from "./IConsortium.sol";
import {IDocumentRegistry, IRegistryTypes} from "./IDocumentRegistry.sol";
import {ISM2Verifier} from "./ISM2Verifier.sol";

/// @title crossverify circulation trail
/// @notice Sealed verification receipts and sealed disputes, beside the document registry. Receipts are events
///         only; a dispute keeps one slot (its answer key, time and state) so that it is answered once, by the
///         issuer concerned.
/// @dev Receipts keep no per-commitment storage: replay protection would cost more than a receipt itself. A
///      verifier that copies another's commitment only records a receipt the regulators find twice, under two
///      verifiers, and the earlier one stands (each verifier is an admitted, accountable member).
contract Circulation is ICirculation, EIP712 {
    /// @dev The EIP-712 struct an answer key signs: the dispute and the hash of the sealed answer.
    bytes32 public constant ANSWER_TYPEHASH = keccak256("Answer(bytes32 disputeId,bytes32 ciphertextHash)");

    uint256 private constant X25519_KEY = 32;
    uint256 private constant HYBRID_KEY = 1216;
    uint256 private constant MAX_REGULATORS = 16;
    /// @dev The secp256k1 field prime.
    uint256 private constant FIELD = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @dev The SM2 curve's field prime and coefficient b (a = p - 3), GB/T 32918.5.
    uint256 private constant SM2_FIELD = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF;
    uint256 private constant SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93;
    uint8 private constant GM_SUITE = 2;

    IDocumentRegistry private immutable _registry;
    address private immutable _consortium;
    /// @dev The registry's SM2 verifier in a GM deployment (sealing keys and answer keys are SM2 keys there), zero
    ///      in a standard one; and the GM type prefix of `Answer` under this contract's domain.
    ISM2Verifier private immutable _sm2Verifier;
    bytes32 private immutable _sm2AnswerPrefix;
    /// @dev The chain this contract was deployed on, the one `_sm2AnswerPrefix` is fixed for.
    uint256 private immutable _deployedChainId = block.chainid;

    uint32 private _keyEpoch;
    bytes[] private _regulatorKeys;
    bytes32[] private _jurisdictions;
    mapping(bytes11 issuerId => bytes) private _issuerKeys;
    mapping(bytes11 issuerId => bytes) private _answerKeys;
    mapping(bytes32 disputeId => DisputeInfo) private _disputes;

    /// @param registry_ The registry whose verifiers, issuers and consortium this contract trusts; its consortium
    ///        names this contract (it was deployed knowing the address).
    constructor(address registry_) EIP712("crossverify circulation", "1") {
        if (registry_ == address(0)) revert CirculationZeroAddress();
        _registry = IDocumentRegistry(registry_);
        address consortium_ = IDocumentRegistry(registry_).consortium();
        address named = IConsortium(consortium_).circulation();
        if (named != address(this)) revert CirculationConsortiumMismatch(consortium_, named);
        _consortium = consortium_;
        if (IDocumentRegistry(registry_).cryptoSuite() == GM_SUITE) {
            ISM2Verifier v = ISM2Verifier(IDocumentRegistry(registry_).sm2Verifier());
            _sm2Verifier = v;
            bytes32 domain = v.sm3(abi.encode(
                v.sm3("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                v.sm3("crossverify circulation"), v.sm3("1"), block.chainid, address(this)
            ));
            _sm2AnswerPrefix = v.sm3(abi.encodePacked(domain, v.sm3("Answer(bytes32 disputeId,bytes32 ciphertextHash)")));
        }
        emit CirculationDeployed(registry_, consortium_);
    }

    // ------------------------------------------------------------------------------------------------------
    // Keys
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ICirculation
    function setRegulatorKeys(bytes[] calldata keys, bytes32[] calldata jurisdictions, uint256 proposalId) external {
        _checkRegulatorKeys(keys, jurisdictions);
        delete _regulatorKeys;
        delete _jurisdictions;
        for (uint256 i = 0; i < keys.length; ++i) {
            _regulatorKeys.push(keys[i]);
            _jurisdictions.push(jurisdictions[i]);
        }
        uint32 epoch = ++_keyEpoch;
        emit RegulatorKeysChanged(epoch, keys, proposalId, jurisdictions);
    }

    /// @inheritdoc ICirculation
    function checkRegulatorKeys(bytes[] calldata keys, bytes32[] calldata jurisdictions) external view {
        _checkRegulatorKeys(keys, jurisdictions);
    }

    function _checkRegulatorKeys(bytes[] calldata keys, bytes32[] calldata jurisdictions) private view {
        if (msg.sender != _consortium) revert CirculationNotConsortium(msg.sender);
        uint256 count = keys.length;
        if (count == 0 || count > MAX_REGULATORS || jurisdictions.length != count) {
            revert CirculationInvalidRegulatorKeys(count, jurisdictions.length);
        }
        uint256 length = keys[0].length;
        for (uint256 i = 0; i < count; ++i) {
            if (keys[i].length != length || !_sealingKey(keys[i])) revert CirculationInvalidKey(i, keys[i].length);
            if (jurisdictions[i] == bytes32(0)) revert CirculationInvalidRegulatorKeys(count, jurisdictions.length);
            for (uint256 j = 0; j < i; ++j) {
                if (keccak256(keys[j]) == keccak256(keys[i])) {
                    revert CirculationInvalidRegulatorKeys(count, jurisdictions.length);
                }
            }
        }
    }

    /// @inheritdoc ICirculation
    function setIssuerKeys(bytes11 issuerId, bytes calldata sealingKey, bytes calldata answerKey) external {
        IRegistryTypes.IssuerInfo memory info = _registry.issuer(issuerId);
        if (info.admin != msg.sender || info.status != IRegistryTypes.Status.Active) {
            revert CirculationNotIssuerAdmin(issuerId, msg.sender);
        }
        if (!_sealingKey(sealingKey)) revert CirculationInvalidKey(0, sealingKey.length);
        if (!_point(answerKey)) revert CirculationInvalidKey(1, answerKey.length);
        _issuerKeys[issuerId] = sealingKey;
        _answerKeys[issuerId] = answerKey;
        emit IssuerKeysSet(issuerId, sealingKey, answerKey);
    }

    /// @dev Whether `key` is x || y, a point of the suite's curve: secp256k1 (y² = x³ + 7), or in the GM suite
    ///      the SM2 curve (y² = x³ - 3x + b).
    function _point(bytes calldata key) private view returns (bool) {
        if (key.length != 64) return false;
        (uint256 x, uint256 y) = (uint256(bytes32(key[:32])), uint256(bytes32(key[32:])));
        if (address(_sm2Verifier) == address(0)) {
            return x < FIELD && y < FIELD
                && mulmod(y, y, FIELD) == addmod(mulmod(mulmod(x, x, FIELD), x, FIELD), 7, FIELD);
        }
        uint256 p = SM2_FIELD;
        uint256 right = addmod(mulmod(mulmod(x, x, p), x, p), addmod(mulmod(p - 3, x, p), SM2_B, p), p);
        return x < p && y < p && mulmod(y, y, p) == right;
    }

    /// @dev Whether `key` is a sealing key of the suite: X25519 or ML-KEM-768 + X25519, or in the GM suite an SM2
    ///      public key.
    function _sealingKey(bytes calldata key) private view returns (bool) {
        if (address(_sm2Verifier) != address(0)) return _point(key);
        return key.length == X25519_KEY || key.length == HYBRID_KEY;
    }

    // ------------------------------------------------------------------------------------------------------
    // Receipts and disputes
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ICirculation
    function recordSealedReceipts(bytes32[] calldata commitments, bytes calldata ciphertext) external {
        uint32 epoch = _sealingEpoch();
        uint256 count = commitments.length;
        if (count == 0 || ciphertext.length == 0) revert CirculationBatchShape(count, ciphertext.length);
        for (uint256 i = 0; i < count; ++i) {
            if (commitments[i] == bytes32(0)) revert CirculationEmptyReceipt(i);
        }
        emit ReceiptsSealed(msg.sender, epoch, commitments, ciphertext);
    }

    /// @inheritdoc ICirculation
    function openDispute(address answerKey, bytes calldata ciphertext) external returns (bytes32 disputeId) {
        uint32 epoch = _sealingEpoch();
        if (answerKey == address(0) || ciphertext.length == 0) revert CirculationEmptyDispute();
        disputeId = keccak256(abi.encode(msg.sender, answerKey));
        DisputeInfo storage d = _disputes[disputeId];
        if (d.openedAt != 0) revert CirculationDisputeExists(disputeId);
        (d.answerKey, d.openedAt) = (answerKey, uint40(block.timestamp));
        emit DisputeOpened(disputeId, msg.sender, epoch, ciphertext);
    }

    /// @inheritdoc ICirculation
    function answerDispute(bytes32 disputeId, bytes calldata ciphertext, IRegistryTypes.Signature calldata signature)
        external
    {
        if (address(_sm2Verifier) != address(0)) revert CirculationSuiteMismatch(GM_SUITE);
        DisputeInfo storage d = _answerable(disputeId, ciphertext);
        (address signer,,) = ECDSA.tryRecover(_answerDigest(disputeId, ciphertext), signature.r, signature.vs);
        if (signer != d.answerKey) revert CirculationAnswerNotAuthorised(disputeId, signer);
        d.answered = true;
        emit DisputeAnswered(disputeId, _keyEpoch, ciphertext);
    }

    /// @inheritdoc ICirculation
    function answerDisputeSM2(bytes32 disputeId, bytes calldata ciphertext, bytes32 r, bytes32 s, bytes32 x, bytes32 y)
        external
    {
        ISM2Verifier v = _sm2Verifier;
        if (address(v) == address(0)) revert CirculationSuiteMismatch(1);
        if (block.chainid != _deployedChainId) revert CirculationChainIdChanged(_deployedChainId, block.chainid);
        DisputeInfo storage d = _answerable(disputeId, ciphertext);
        address key = address(uint160(uint256(v.sm3(abi.encodePacked(x, y)))));
        if (key != d.answerKey) revert CirculationAnswerNotAuthorised(disputeId, key);
        bytes32 message = v.sm3(abi.encodePacked(hex"1901", _sm2AnswerPrefix, disputeId, v.sm3(ciphertext)));
        if (!v.verify(v.identityDigest(x, y), message, r, s, x, y)) revert CirculationAnswerNotAuthorised(disputeId, key);
        d.answered = true;
        emit DisputeAnswered(disputeId, _keyEpoch, ciphertext);
    }

    function _answerable(bytes32 disputeId, bytes calldata ciphertext) private view returns (DisputeInfo storage d) {
        d = _disputes[disputeId];
        if (d.openedAt == 0) revert CirculationUnknownDispute(disputeId);
        if (d.answered) revert CirculationDisputeAnswered(disputeId);
        if (ciphertext.length == 0) revert CirculationEmptyDispute();
    }

    /// @dev The current key epoch, for an active verifier; reverts for anyone else or before keys exist.
    function _sealingEpoch() private view returns (uint32 epoch) {
        IRegistryTypes.MemberInfo memory m = _registry.member(msg.sender);
        if (m.role != IRegistryTypes.Role.Verifier || m.status != IRegistryTypes.Status.Active) {
            revert CirculationNotVerifier(msg.sender);
        }
        epoch = _keyEpoch;
        if (epoch == 0) revert CirculationNoRegulatorKeys();
    }

    function _answerDigest(bytes32 disputeId, bytes calldata ciphertext) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ANSWER_TYPEHASH, disputeId, keccak256(ciphertext))));
    }

    // ------------------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------------------

    /// @inheritdoc ICirculation
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ICirculation
    function consortium() external view returns (address) {
        return _consortium;
    }

    /// @inheritdoc ICirculation
    function regulatorKeys()
        external
        view
        returns (uint32 epoch, bytes[] memory keys, bytes32[] memory jurisdictions)
    {
        return (_keyEpoch, _regulatorKeys, _jurisdictions);
    }

    /// @inheritdoc ICirculation
    function issuerSealingKey(bytes11 issuerId) external view returns (bytes memory) {
        return _issuerKeys[issuerId];
    }

    /// @inheritdoc ICirculation
    function issuerAnswerKey(bytes11 issuerId) external view returns (bytes memory) {
        return _answerKeys[issuerId];
    }

    /// @inheritdoc ICirculation
    function dispute(bytes32 disputeId) external view returns (DisputeInfo memory) {
        return _disputes[disputeId];
    }

    /// @inheritdoc ICirculation
    function answerDigest(bytes32 disputeId, bytes calldata ciphertext) external view returns (bytes32) {
        return _answerDigest(disputeId, ciphertext);
    }
}
