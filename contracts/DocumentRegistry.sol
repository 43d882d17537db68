// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IConsortium} from "./IConsortium.sol";
import {IDocumentRegistry} from "./IDocumentRegistry.sol";
import {ISM2Verifier} from "./ISM2Verifier.sol";
import {RegistryStorage} from "./RegistryStorage.sol";

/// @title crossverify document registry
/// @notice Issuer-signed batch anchors, revocations and key history, governed by a separate consortium contract.
///         Verification receipts and disputes live, sealed, on the circulation contract beside it. Not
///         upgradeable: a new version is a new deployment the consortium records as this one's successor.
/// @dev This contract holds the paths every issuer and bank takes (anchors, revocations, the verifier's reads);
///      its fallback delegates every other function of {IDocumentRegistry} to `RegistryGovernance`, deployed
///      beside it with the same storage layout. State is internal; each transition has one choke point that
///      checks, writes, then emits.
contract DocumentRegistry is RegistryStorage {
    /// @dev Highest hash algorithm id: 1 keccak256, 2 sha256, 3 SM3.
    uint8 private constant MAX_HASH_ALG = 3;

    address private immutable _governance;

    /// @dev The GM suite's type prefixes (see {RegistryStorage-_sm2Message}); zero in a standard deployment.
    bytes32 private immutable _sm2AnchorPrefix;
    bytes32 private immutable _sm2RevocationPrefix;

    /// @param consortium_ The consortium contract, deployed first with this registry's address.
    /// @param governance_ The governance half, deployed before this contract for the same consortium (refused
    ///        otherwise): the registry takes its crypto suite and SM2 verifier from it, so both halves agree.
    constructor(address consortium_, IDocumentRegistry governance_)
        RegistryStorage(consortium_, governance_.cryptoSuite(), ISM2Verifier(governance_.sm2Verifier()))
    {
        address named = IConsortium(consortium_).registry();
        if (named != address(this)) revert RegistryConsortiumMismatch(consortium_, named);
        address served = governance_.consortium();
        if (served != consortium_) revert RegistryGovernanceMismatch(address(governance_), served);
        _governance = address(governance_);
        if (_suite == GM_SUITE) {
            bytes32 domain = _sm2Verifier.sm3(abi.encode(
                _sm2Verifier.sm3("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                _sm2Verifier.sm3("crossverify DocumentRegistry"), _sm2Verifier.sm3("2"), block.chainid, address(this)
            ));
            _sm2AnchorPrefix = _sm2TypePrefix(domain,
                "Anchor(bytes32 batchRoot,bytes8 docType,uint8 hashAlg,uint24 leafCount,uint40 notAfter,uint40 deadline)");
            _sm2RevocationPrefix = _sm2TypePrefix(domain,
                "Revocation(bytes32 batchRoot,bytes32 documentDigest,uint8 reason,uint40 deadline)");
            _sm2KeyProofPrefix = _sm2TypePrefix(domain, "SigningKey(bytes11 issuerId,address key)");
        }
        emit RegistryDeployed(consortium_);
    }

    function _sm2TypePrefix(bytes32 domain, bytes memory typeString) private view returns (bytes32) {
        return _sm2Verifier.sm3(abi.encodePacked(domain, _sm2Verifier.sm3(typeString)));
    }

    /// @notice Every other function of the registry (governance, issuer keys, the remaining views) runs in the
    ///         governance half, on this contract's storage.
    fallback() external {
        address governance = _governance;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), governance, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Anchors
    // ------------------------------------------------------------------------------------------------------

    /// @notice Anchor a batch root signed by an active key of an active issuer (see {IDocumentRegistry-anchor}).
    function anchor(AnchorRequest calldata request, Signature calldata signature) external {
        _anchor(request, signature, false);
    }

    /// @notice Anchor a batch root signed with SM2 (GM suite; see {IDocumentRegistry-anchorSM2}).
    function anchorSM2(AnchorRequest calldata request, SM2Signature calldata signature) external {
        _anchorSM2(request, signature, false);
    }

    /// @notice Anchor many batch roots signed with SM2 (GM suite), as {anchorMany}.
    function anchorManySM2(AnchorRequest[] calldata requests, SM2Signature[] calldata signatures) external {
        if (requests.length != signatures.length) revert RegistryLengthMismatch(requests.length, signatures.length);
        uint256 freeMemory;
        assembly ("memory-safe") {
            freeMemory := mload(0x40)
        }
        for (uint256 i = 0; i < requests.length; ++i) {
            _anchorSM2(requests[i], signatures[i], true);
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
    }

    /// @notice Anchor many signed batch roots in one transaction; a root its issuer already anchored with an
    ///         identical record is skipped, any other failure reverts all.
    function anchorMany(AnchorRequest[] calldata requests, Signature[] calldata signatures) external {
        if (requests.length != signatures.length) revert RegistryLengthMismatch(requests.length, signatures.length);
        uint256 freeMemory;
        assembly ("memory-safe") {
            freeMemory := mload(0x40)
        }
        for (uint256 i = 0; i < requests.length; ++i) {
            _anchor(requests[i], signatures[i], true);
            // Nothing an anchor allocates outlives it: reusing its memory keeps expansion from growing with N².
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
    }

    function _anchor(AnchorRequest calldata r, Signature calldata signature, bool skipIdentical) private {
        _requireSuite(STANDARD_SUITE);
        uint40 now_ = _checkAnchor(r);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(ANCHOR_TYPEHASH, r)));
        _recordAnchor(r, _recover(digest, signature), now_, skipIdentical);
    }

    function _anchorSM2(AnchorRequest calldata r, SM2Signature calldata signature, bool skipIdentical) private {
        _requireSuite(GM_SUITE);
        if (r.hashAlg != SM3_HASH_ALG) revert RegistryUnknownHashAlgorithm(r.hashAlg);
        uint40 now_ = _checkAnchor(r);
        bytes memory packed = abi.encodePacked(r.batchRoot, r.docType, r.hashAlg, r.leafCount, r.notAfter, r.deadline);
        _requireSM2Signature(_sm2Message(_sm2AnchorPrefix, packed), signature);
        _recordAnchor(r, signature.key, now_, skipIdentical);
    }

    /// @dev The request's own checks, before its signature's; returns the registry's clock.
    function _checkAnchor(AnchorRequest calldata r) private view returns (uint40 now_) {
        now_ = _time();
        _requireDeadline(r.deadline, now_);
        if (r.batchRoot == bytes32(0)) revert RegistryZeroRoot();
        if (r.hashAlg == 0 || r.hashAlg > MAX_HASH_ALG) revert RegistryUnknownHashAlgorithm(r.hashAlg);
        if (r.leafCount == 0) revert RegistryZeroLeafCount();
        if (r.notAfter <= now_) revert RegistryNotAfterPassed(r.notAfter, now_);
    }

    /// @dev Records the anchor signed by `signer` once its key, issuer and document type are found to count.
    function _recordAnchor(AnchorRequest calldata r, address signer, uint40 now_, bool skipIdentical) private {
        (bytes11 issuerId, uint32 keyNo) = _usableKey(signer, now_, r.deadline);
        if (!_mayIssue[issuerId][r.docType]) revert RegistryDocTypeNotAllowed(issuerId, r.docType);

        Anchor storage a = _anchors[issuerId][r.batchRoot];
        if (a.anchoredAt != 0) {
            bool identical = a.keyNo == keyNo && a.notAfter == r.notAfter && a.leafCount == r.leafCount
                && a.hashAlg == r.hashAlg && a.docType == r.docType;
            if (skipIdentical && identical) return;
            // An anchor whose key was compromised at or before it holds nothing: a stolen key cannot squat a root.
            if (!_anchorVoid(a)) revert RegistryRootAlreadyAnchored(r.batchRoot, issuerId);
        }
        // The record {keyNo, anchoredAt, notAfter, leafCount, hashAlg, docType}, written with one store: the
        // compiler would write its members one by one (1,600 gas more on every anchor).
        uint256 packed = uint256(keyNo) | uint256(now_) << 32 | uint256(r.notAfter) << 72
            | uint256(r.leafCount) << 112 | uint256(r.hashAlg) << 136 | uint256(uint64(r.docType)) << 144;
        assembly ("memory-safe") {
            sstore(a.slot, packed)
        }
        emit BatchAnchored(r.batchRoot, issuerId, signer, r.docType, r.hashAlg, r.leafCount, r.notAfter);
    }

    function _anchorVoid(Anchor storage a) private view returns (bool) {
        address key = _keyByNo[a.keyNo];
        uint40 compromisedFrom = _compromisedFrom(key, _keys[key]);
        return compromisedFrom != 0 && compromisedFrom <= a.anchoredAt;
    }

    function _requireDeadline(uint40 deadline, uint40 now_) private pure {
        if (deadline < now_) revert RegistrySignatureExpired(deadline, now_);
        if (deadline > now_ + DEADLINE_HORIZON) revert RegistryDeadlineTooFar(deadline, now_ + DEADLINE_HORIZON);
    }

    /// @dev The signer of a request's EIP-712 digest. High-s signatures are refused.
    function _recover(bytes32 digest, Signature calldata signature) private pure returns (address recovered) {
        ECDSA.RecoverError err;
        bytes32 errArg;
        (recovered, err, errArg) = ECDSA.tryRecover(digest, signature.r, signature.vs);
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert RegistryMalleableSignature(errArg);
        if (err != ECDSA.RecoverError.NoError) revert RegistryInvalidSignature(signature.r, signature.vs);
    }

    /// @dev Requires `signer` to be an active key of an active issuer, and a deadline the issuer has not cancelled;
    ///      returns the issuer and the key's number.
    function _usableKey(address signer, uint40 now_, uint40 deadline)
        private
        view
        returns (bytes11 issuerId, uint32 keyNo)
    {
        Key storage k = _keys[signer];
        if (k.addedAt == 0) revert RegistryUnknownKey(signer);
        if (k.retiredAt != 0) revert RegistryKeyRetired(signer, k.retiredAt);
        issuerId = k.issuerId;
        Issuer storage i = _issuers[issuerId];
        if (k.compromisedFrom != 0 || k.adminNo != i.adminNo) {  // a mark, or a key an earlier admin added
            uint40 compromisedFrom = _compromisedFrom(signer, k);
            if (compromisedFrom != 0 && compromisedFrom <= now_) revert RegistryKeyCompromised(signer, compromisedFrom);
        }
        if (i.status != Status.Active) revert RegistryIssuerNotActive(issuerId, i.status);
        if (deadline <= i.cancelledUpTo) revert RegistrySignatureCancelled(issuerId, deadline, i.cancelledUpTo);
        keyNo = k.keyNo;
    }

    // ------------------------------------------------------------------------------------------------------
    // Revocation
    // ------------------------------------------------------------------------------------------------------

    /// @notice Revoke a whole batch of the caller's issuer, as its admin.
    function revokeBatch(bytes32 batchRoot, RevocationReason reason) external {
        AdminOf memory admin = _adminIssuer();
        _revokeBatch(batchRoot, reason, admin.issuerId, 0, admin.adminNo, address(0));
    }

    /// @notice Revoke one document of the caller's issuer, wherever it was anchored, as that issuer's admin.
    function revokeDocument(bytes32 documentDigest, RevocationReason reason) external {
        AdminOf memory admin = _adminIssuer();
        _revokeDocument(documentDigest, reason, admin.issuerId, 0, admin.adminNo, address(0));
    }

    /// @notice Revoke with a request signed by an active key of the issuer, submitted by anyone.
    function revokeBySignature(RevocationRequest calldata r, Signature calldata signature) external {
        _requireSuite(STANDARD_SUITE);
        uint40 now_ = _checkRevocation(r);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REVOCATION_TYPEHASH, r)));
        _recordRevocation(r, _recover(digest, signature), now_);
    }

    /// @notice Revoke with a request signed with SM2 by an active key of the issuer (GM suite), submitted by anyone.
    function revokeBySM2Signature(RevocationRequest calldata r, SM2Signature calldata signature) external {
        _requireSuite(GM_SUITE);
        uint40 now_ = _checkRevocation(r);
        bytes memory packed = abi.encodePacked(r.batchRoot, r.documentDigest, r.reason, r.deadline);
        _requireSM2Signature(_sm2Message(_sm2RevocationPrefix, packed), signature);
        _recordRevocation(r, signature.key, now_);
    }

    function _checkRevocation(RevocationRequest calldata r) private view returns (uint40 now_) {
        now_ = _time();
        _requireDeadline(r.deadline, now_);
        if ((r.batchRoot == bytes32(0)) == (r.documentDigest == bytes32(0))) {
            revert RegistryInvalidRevocationTarget(r.batchRoot, r.documentDigest);
        }
    }

    function _recordRevocation(RevocationRequest calldata r, address signer, uint40 now_) private {
        (bytes11 issuerId, uint32 keyNo) = _usableKey(signer, now_, r.deadline);
        if (r.documentDigest != bytes32(0)) {
            _revokeDocument(r.documentDigest, r.reason, issuerId, keyNo, 0, signer);
        } else {
            _revokeBatch(r.batchRoot, r.reason, issuerId, keyNo, 0, signer);
        }
    }

    function _adminIssuer() private view returns (AdminOf memory admin) {
        admin = _adminOf[msg.sender];
        if (admin.issuerId == bytes11(0)) revert RegistryNotIssuerAdmin(admin.issuerId, msg.sender);
    }

    function _revokeBatch(
        bytes32 batchRoot,
        RevocationReason reason,
        bytes11 issuerId,
        uint32 keyNo,
        uint16 adminNo,
        address signer
    ) private {
        if (reason == RevocationReason.None) revert RegistryInvalidRevocationReason(reason);
        if (_anchors[issuerId][batchRoot].anchoredAt == 0) revert RegistryUnknownBatch(issuerId, batchRoot);
        Revocation storage b = _batchRevocations[issuerId][batchRoot];
        if (_counts(issuerId, b)) revert RegistryBatchAlreadyRevoked(batchRoot, b.reason);
        _writeRevocation(b, reason, keyNo, adminNo);
        emit BatchRevoked(batchRoot, issuerId, msg.sender, reason, signer);
    }

    function _revokeDocument(
        bytes32 documentDigest,
        RevocationReason reason,
        bytes11 issuerId,
        uint32 keyNo,
        uint16 adminNo,
        address signer
    ) private {
        if (reason == RevocationReason.None) revert RegistryInvalidRevocationReason(reason);
        Revocation storage d = _documentRevocations[issuerId][documentDigest];
        if (_counts(issuerId, d)) revert RegistryDocumentAlreadyRevoked(documentDigest, issuerId, d.reason);
        _writeRevocation(d, reason, keyNo, adminNo);
        emit DocumentRevoked(documentDigest, issuerId, msg.sender, reason, signer);
    }

    /// @dev Writes a revocation record with one store: the compiler would write its members one by one.
    function _writeRevocation(Revocation storage v, RevocationReason reason, uint32 keyNo, uint16 adminNo) private {
        uint256 packed = uint256(uint8(reason)) | uint256(_time()) << 8 | uint256(keyNo) << 48 | uint256(adminNo) << 80;
        assembly ("memory-safe") {
            sstore(v.slot, packed)
        }
    }

    /// @dev Whether a recorded revocation counts: it exists, and neither its key nor its admin was compromised
    ///      by then.
    function _counts(bytes11 issuerId, Revocation storage v) private view returns (bool) {
        Revocation memory m = v;
        return m.reason != RevocationReason.None && !_void(issuerId, m);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views: the verifier's reads
    // ------------------------------------------------------------------------------------------------------

    /// @notice Everything a verifier needs about each (issuer, batch, document) triple, in one call.
    function documentStatuses(DocumentQuery[] calldata queries) external view returns (DocumentStatus[] memory out) {
        out = new DocumentStatus[](queries.length);
        for (uint256 i = 0; i < queries.length; ++i) {
            DocumentQuery calldata q = queries[i];
            out[i] = _documentStatus(q.issuerId, q.batchRoot, q.documentDigest);
        }
    }

    function _documentStatus(bytes11 issuerId, bytes32 batchRoot, bytes32 documentDigest)
        private
        view
        returns (DocumentStatus memory s)
    {
        Anchor memory a = _anchors[issuerId][batchRoot];
        if (a.anchoredAt == 0) return s;
        address key = _keyByNo[a.keyNo];
        Key memory k = _keys[key];
        s.issuerId = issuerId;
        s.signingKey = key;
        s.anchoredAt = a.anchoredAt;
        s.notAfter = a.notAfter;
        s.docType = a.docType;
        s.hashAlg = a.hashAlg;
        s.leafCount = a.leafCount;
        s.batchRevocation = _record(issuerId, _batchRevocations[issuerId][batchRoot]);
        s.documentRevocation = _record(issuerId, _documentRevocations[issuerId][documentDigest]);
        s.issuerStatus = _issuers[issuerId].status;
        s.issuerActiveAtAnchor = _issuerActiveAt(issuerId, a.anchoredAt);
        s.issuerMayIssue = _mayIssue[issuerId][a.docType];
        s.keyAddedAt = k.addedAt;
        s.keyRetiredAt = k.retiredAt;
        s.keyCompromisedFrom = _compromisedFrom(key, k);
    }

    /// @notice Positions in `documentDigests` that `issuerId` revoked (void revocations included), ascending.
    function revokedDocuments(bytes11 issuerId, bytes32[] calldata documentDigests)
        external
        view
        returns (uint256[] memory indices)
    {
        mapping(bytes32 => Revocation) storage revocations = _documentRevocations[issuerId];
        indices = new uint256[](documentDigests.length);
        uint256 found;
        for (uint256 i = 0; i < documentDigests.length; ++i) {
            if (revocations[documentDigests[i]].reason != RevocationReason.None) indices[found++] = i;
        }
        assembly ("memory-safe") {
            mstore(indices, found)
        }
    }

    function _record(bytes11 issuerId, Revocation storage v) private view returns (RevocationRecord memory r) {
        Revocation memory m = v;
        (r.reason, r.revokedAt) = (m.reason, m.revokedAt);
        if (m.reason == RevocationReason.None) return r;
        if (m.keyNo != 0) r.signingKey = _keyByNo[m.keyNo];
        r.void = _void(issuerId, m);
    }

    /// @notice The verifier or regulator record of `account` (read by the circulation contract on every receipt).
    function member(address account) external view returns (MemberInfo memory) {
        return _members[account];
    }
}
