// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IRegistryTypes} from "./IDocumentRegistry.sol";
import {ISM2Verifier} from "./ISM2Verifier.sol";

/// @title crossverify document registry: the storage both halves share
/// @notice `DocumentRegistry` and `RegistryGovernance` inherit this one layout; the registry delegates to the
///         governance half, so both read and write the same slots. New state goes at the end, never between.
/// @dev The rules every half applies to what it reads live here too: when a key counts as compromised (its
///      marks, and an admin declared compromised who added or marked it), and whether a revocation counts.
abstract contract RegistryStorage is IRegistryTypes, EIP712 {
    /// @dev keccak256("Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,uint40 deadline)")
    bytes32 internal constant ANCHOR_TYPEHASH =
        keccak256("Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,uint40 deadline)");

    /// @dev keccak256("Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)")
    bytes32 internal constant REVOCATION_TYPEHASH =
        keccak256("Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)");

    /// @dev keccak256("SigningKey(bytes11 issuerId,address key)"): a key's proof of possession.
    bytes32 internal constant SIGNING_KEY_TYPEHASH = keccak256("SigningKey(bytes11 issuerId,address key)");

    /// @dev The crypto suites (`cryptoSuite()`): keccak-256, secp256k1 EIP-712, P-256 holders, X25519 + AES-GCM
    ///      sealing; or GM: SM3, SM2, SM4.
    uint8 internal constant STANDARD_SUITE = 1;
    uint8 internal constant GM_SUITE = 2;

    /// @dev The hash algorithm id of SM3, the only batch tree hash of a GM deployment.
    uint8 internal constant SM3_HASH_ALG = 3;

    /// @dev How far ahead of the submitting block a signed request's deadline may lie.
    uint40 internal constant DEADLINE_HORIZON = 7 days;

    /// @dev How far back an admin may be declared compromised, counted from the replacement's proposal (a slow
    ///      approval does not shorten it). Thirty days: every act of an admin is a public
    ///      event its issuer and the regulators watch, so a stolen account shows within days; beyond a month, a
    ///      revocation banks have relied on becomes final. Forged anchors need no such bound: a key added by a
    ///      stolen admin long ago is cut off by marking that key compromised, which reaches back without limit.
    uint40 internal constant ADMIN_LOOKBACK = 30 days;

    /// @dev One storage slot, read on every anchor: admin, status, the cancellation watermark and which admin
    ///      (counted from 0 at admission) the issuer has now.
    struct Issuer {
        address admin;
        Status status;
        uint40 cancelledUpTo;
        uint16 adminNo;
    }

    /// @dev One of an issuer's admins, by number: when it took office, and from when it is declared compromised.
    struct Admin {
        address account;
        uint40 since;
        uint40 compromisedFrom;
    }

    /// @dev Where an admin account acts: its issuer and its number there.
    struct AdminOf {
        bytes11 issuerId;
        uint16 adminNo;
    }

    /// @dev One storage slot, so anchoring reads a key's issuer and lifecycle at once. `compromisedFrom` is the
    ///      earliest mark ever set (zero: none), a hint that {KeyMarks} must be read; `adminNo` added the key.
    struct Key {
        bytes11 issuerId;
        uint32 keyNo;
        uint40 addedAt;
        uint40 retiredAt;
        uint40 compromisedFrom;
        uint16 adminNo;
    }

    /// @dev Who marked a key compromised: the consortium (final, moves only earlier), and the issuer's admin
    ///      (once; void if that admin is declared compromised at or before `adminMarkedAt`).
    struct KeyMarks {
        uint40 byConsortium;
        uint40 byAdmin;
        uint40 adminMarkedAt;
        uint16 adminNo;
    }

    /// @dev One storage slot: the anchor record. Keyed by issuer and root, so no issuer can squat another's root.
    ///      `DocumentRegistry` writes it as one packed word: keep the members and their order.
    struct Anchor {
        uint32 keyNo;
        uint40 anchoredAt;
        uint40 notAfter;
        uint24 leafCount;
        uint8 hashAlg;
        bytes8 docType;
    }

    /// @dev One storage slot. `keyNo` 0: sent by the issuer's admin number `adminNo`. `DocumentRegistry` writes it
    ///      as one packed word: keep the members and their order.
    struct Revocation {
        RevocationReason reason;
        uint40 revokedAt;
        uint32 keyNo;
        uint16 adminNo;
    }

    /// @dev One cancellation of signed requests, in the issuer's log (kept so a compromised admin's are undone).
    struct Cancellation {
        uint40 upTo;
        uint40 at;
        uint16 adminNo;
    }

    /// @dev An SM2 signing key (GM suite): its public key and identity digest Z, kept to verify its signatures.
    struct SM2Key {
        bytes32 x;
        bytes32 y;
        bytes32 z;
    }

    address internal immutable _consortium;
    uint8 internal immutable _suite;
    /// @dev The GM suite's SM2 and SM3 (EVM code, or a chain's precompile behind an adapter); zero in a standard
    ///      deployment.
    ISM2Verifier internal immutable _sm2Verifier;

    mapping(bytes11 issuerId => Issuer) internal _issuers;
    mapping(bytes11 issuerId => bytes32) internal _jurisdictions;
    mapping(bytes11 issuerId => ActivePeriod[]) internal _history;
    mapping(bytes11 issuerId => address[]) internal _issuerKeys;
    mapping(bytes11 issuerId => mapping(bytes8 docType => bool)) internal _mayIssue;
    mapping(bytes11 issuerId => mapping(uint256 adminNo => Admin)) internal _admins;
    mapping(address admin => AdminOf) internal _adminOf;
    mapping(bytes11 issuerId => mapping(uint256 index => Cancellation)) internal _cancellations;
    mapping(bytes11 issuerId => uint256) internal _cancellationCount;

    mapping(address key => Key) internal _keys;
    mapping(address key => KeyMarks) internal _marks;
    mapping(uint32 keyNo => address) internal _keyByNo;
    uint32 internal _keyCount;

    mapping(address account => MemberInfo) internal _members;

    mapping(bytes11 issuerId => mapping(bytes32 batchRoot => Anchor)) internal _anchors;
    mapping(bytes11 issuerId => mapping(bytes32 batchRoot => Revocation)) internal _batchRevocations;
    mapping(bytes11 issuerId => mapping(bytes32 documentDigest => Revocation)) internal _documentRevocations;

    Predecessor[] internal _predecessors;
    mapping(bytes11 issuerId => mapping(bytes8 docType => bytes32 digest)) internal _metadataDigests;

    mapping(address key => SM2Key) internal _sm2Keys;
    /// @dev SM3(domainSeparatorSM3 || SM3("SigningKey(bytes11 issuerId,address key)")): written by the registry's
    ///      constructor (it depends on the registry's address), read by the governance half.
    bytes32 internal _sm2KeyProofPrefix;

    /// @dev The chain this contract was deployed on, the one the GM suite's type prefixes are fixed for.
    uint256 private immutable _deployedChainId = block.chainid;

    /// @dev The jurisdiction a member answers to (required of regulators: a regulator vetoes only its own
    ///      jurisdiction's operator recoveries).
    mapping(address account => bytes32) internal _memberJurisdictions;

    /// @param consortium_ The consortium contract, the only account that carries out governance.
    /// @param suite The crypto suite, for ever: 1 standard, 2 GM.
    /// @param sm2Verifier_ The SM2 verifier of a GM deployment; zero in a standard one.
    constructor(address consortium_, uint8 suite, ISM2Verifier sm2Verifier_)
        EIP712("crossverify DocumentRegistry", "2")
    {
        if (consortium_ == address(0)) revert RegistryZeroAddress();
        bool gm = suite == GM_SUITE;
        if ((suite != STANDARD_SUITE && !gm) || (address(sm2Verifier_) != address(0)) != gm) {
            revert RegistryInvalidSuite(suite, address(sm2Verifier_));
        }
        _consortium = consortium_;
        _suite = suite;
        _sm2Verifier = sm2Verifier_;
    }

    /// @dev Refuses an entry point or a structure of the other suite.
    function _requireSuite(uint8 suite) internal view {
        if (_suite != suite) revert RegistrySuiteMismatch(_suite);
    }

    /// @dev The 32-byte message M an SM2 key signs for a request of the type with `prefix` (docs/format.md):
    ///      SM3(0x19 || 0x01 || prefix || the request's fields packed at their widths).
    ///      On a chain whose id changed since deployment (a fork) the prefixes name the old chain: refused.
    function _sm2Message(bytes32 prefix, bytes memory packed) internal view returns (bytes32) {
        if (block.chainid != _deployedChainId) revert RegistryChainIdChanged(_deployedChainId, block.chainid);
        return _sm2Verifier.sm3(abi.encodePacked(hex"1901", prefix, packed));
    }

    /// @dev Requires `signature` to be the SM2 signature of `message` by its key, registered in this registry.
    function _requireSM2Signature(bytes32 message, SM2Signature calldata signature) internal view {
        SM2Key storage k = _sm2Keys[signature.key];
        if (k.z == 0) revert RegistryUnknownKey(signature.key);
        if (!_sm2Verifier.verify(k.z, message, signature.r, signature.s, k.x, k.y)) {
            revert RegistryInvalidSM2Signature(signature.key);
        }
    }

    /// @dev From when `key` (whose record is `k`) counts as compromised, zero if it does not: the consortium's mark,
    ///      the admin's mark unless that admin was declared compromised by then, and the moment the key was added if
    ///      an admin declared compromised by then added it.
    function _compromisedFrom(address key, Key memory k) internal view returns (uint40 from) {
        if (k.compromisedFrom != 0) {
            KeyMarks memory m = _marks[key];
            from = m.byConsortium;
            if (m.byAdmin != 0 && !_adminVoid(k.issuerId, m.adminNo, m.adminMarkedAt)) from = _earlier(from, m.byAdmin);
        }
        if (_adminVoid(k.issuerId, k.adminNo, k.addedAt)) from = _earlier(from, k.addedAt);
    }

    /// @dev Whether what admin `adminNo` of `issuerId` did at `time` no longer counts.
    function _adminVoid(bytes11 issuerId, uint16 adminNo, uint40 time) internal view returns (bool) {
        uint40 compromisedFrom = _admins[issuerId][adminNo].compromisedFrom;
        return compromisedFrom != 0 && compromisedFrom <= time;
    }

    /// @dev The earlier of two times, zero meaning "none".
    function _earlier(uint40 a, uint40 b) internal pure returns (uint40) {
        return a == 0 || (b != 0 && b < a) ? b : a;
    }

    /// @dev Whether a recorded revocation is void: its key, or the admin that sent it, was compromised by then.
    function _void(bytes11 issuerId, Revocation memory v) internal view returns (bool) {
        if (v.keyNo == 0) return _adminVoid(issuerId, v.adminNo, v.revokedAt);
        address key = _keyByNo[v.keyNo];
        uint40 compromisedFrom = _compromisedFrom(key, _keys[key]);
        return compromisedFrom != 0 && compromisedFrom <= v.revokedAt;
    }

    /// @dev Whether `issuerId` was admitted and not suspended at `time` (both ends of a period included).
    function _issuerActiveAt(bytes11 issuerId, uint40 time) internal view returns (bool) {
        ActivePeriod[] storage history = _history[issuerId];
        for (uint256 i = history.length; i > 0; --i) {
            ActivePeriod storage p = history[i - 1];
            if (p.from <= time) return p.until == 0 || time <= p.until;
        }
        return false;
    }

    /// @dev The registry's clock, in the width every record uses. Tests move it with the chain's timestamp.
    function _time() internal view returns (uint40) {
        return uint40(block.timestamp);
    }
}
