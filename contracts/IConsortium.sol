// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title crossverify consortium
/// @notice The authority over one document registry: the operators of every jurisdiction (Macao, Guangdong,
///         and whoever joins), their proposals and approvals, and the quorum rule. A proposal passes when an
///         operator of every jurisdiction that has one approved it and the approvals reach the threshold; the
///         approval that passes it carries it out, on the registry or on the consortium itself.
/// @dev Changing the operators or the threshold starts a new epoch: proposals still open from an earlier epoch
///      can no longer be approved (their approvals were given by another set of operators) and must be made again.
///      One lost key must not freeze the consortium: a RecoverOperator proposal replaces an operator that cannot
///      approve, with the other jurisdictions' quorum and after {RECOVERY_DELAY} of public notice, during which any
///      operator of that operator's jurisdiction (itself included) or any active regulator of that jurisdiction
///      can veto it: no other jurisdiction can keep the seat lost.
interface IConsortium {
    /// @notice What a proposal does. The first ten are carried out on the registry (see the registry's
    ///         `GovernanceAction` for their payloads); the next four on the consortium; SetRegulatorKeys on the
    ///         circulation contract; RecoverOperator on the consortium, after its time lock.
    /// @dev Payloads of the consortium's own kinds, ABI-encoded: AddOperator `(address account, bytes32
    ///      jurisdiction)`; RemoveOperator `(address account)`; ReplaceOperator `(address oldAccount, address
    ///      newAccount)`; SetThreshold `(uint8 threshold)`; SetRegulatorKeys `(bytes[] keys, bytes32[]
    ///      jurisdictions)` (on the circulation contract fixed at deployment); RecoverOperator `(address lost,
    ///      address replacement)`.
    enum ProposalKind {
        AdmitIssuer,
        SuspendIssuer,
        ReinstateIssuer,
        SetDocTypes,
        AdmitMember,
        SuspendMember,
        ReinstateMember,
        CompromiseKey,
        ReplaceIssuerAdmin,
        RecordPredecessor,
        AddOperator,
        RemoveOperator,
        ReplaceOperator,
        SetThreshold,
        SetRegulatorKeys,
        RecoverOperator
    }

    /// @notice An operator account and the jurisdiction it answers for (a short code such as "MO").
    struct OperatorInfo {
        address account;
        bytes32 jurisdiction;
    }

    /// @notice A governance proposal. `approvedBy` has bit `i` set when operator `i` of {operators} approved (a
    ///         recovery sets the lost operator's bit from the start). `unlockAt` is when a recovery that reached its
    ///         quorum may be carried out (zero until then, and for every other kind); `vetoed`: a recovery stopped.
    struct ProposalInfo {
        ProposalKind kind;
        address proposer;
        uint40 createdAt;
        uint40 expiresAt;
        uint32 epoch;
        uint16 approvedBy;
        bool executed;
        uint40 unlockAt;
        bool vetoed;
        bytes payload;
    }

    /// @notice The consortium was founded with these operators, threshold and proposal lifetime, for `registry` and
    ///         the circulation contract beside it.
    event ConsortiumFounded(
        address indexed registry,
        address indexed circulation,
        OperatorInfo[] operators,
        uint8 threshold,
        uint40 proposalLifetime
    );
    /// @notice An operator proposed something; its own approval follows.
    event ProposalCreated(
        uint256 indexed proposalId, ProposalKind indexed kind, address indexed proposer, bytes payload, uint40 expiresAt
    );
    /// @notice An operator approved a proposal; `approvals` counts them so far.
    event ProposalApproved(uint256 indexed proposalId, address indexed operator, uint16 approvals);
    /// @notice The proposal passed and was carried out in `operator`'s approval.
    event ProposalExecuted(uint256 indexed proposalId, ProposalKind indexed kind, address indexed operator);
    /// @notice An operator joined for `jurisdiction`.
    event OperatorAdded(address indexed account, bytes32 indexed jurisdiction, uint256 indexed proposalId);
    /// @notice An operator left.
    event OperatorRemoved(address indexed account, bytes32 indexed jurisdiction, uint256 indexed proposalId);
    /// @notice An operator's account was replaced by another, in the same jurisdiction.
    event OperatorReplaced(address indexed oldAccount, address indexed newAccount, uint256 indexed proposalId);
    /// @notice The number of approvals a proposal needs changed (every jurisdiction's approval is needed too).
    event ThresholdChanged(uint8 threshold, uint256 indexed proposalId);
    /// @notice A recovery reached its quorum: `lost` is replaced by `replacement` from `unlockAt` unless vetoed.
    event RecoveryScheduled(
        uint256 indexed proposalId, address indexed lost, address indexed replacement, uint40 unlockAt
    );
    /// @notice A recovery was vetoed by an operator or a regulator of the lost operator's jurisdiction.
    event RecoveryVetoed(uint256 indexed proposalId, address indexed vetoer);

    /// @notice An address argument is zero.
    error ConsortiumZeroAddress();
    /// @notice A jurisdiction code must not be zero.
    error ConsortiumZeroJurisdiction(address account);
    /// @notice The operators would not span two jurisdictions, or the threshold would be below two or above the
    ///         number of operators, or there would be more operators or jurisdictions than the consortium holds.
    error ConsortiumInvalidQuorum(uint256 operators, uint256 jurisdictions, uint256 threshold);
    /// @notice A proposal lifetime must lie between an hour and ninety days.
    error ConsortiumInvalidLifetime(uint40 lifetime);
    /// @notice The account is already an operator.
    error ConsortiumDuplicateOperator(address account);
    /// @notice Only a consortium operator may do this.
    error ConsortiumNotOperator(address account);
    /// @notice No proposal has this id.
    error ConsortiumUnknownProposal(uint256 proposalId);
    /// @notice The proposal expired before reaching its quorum; propose again.
    error ConsortiumProposalExpired(uint256 proposalId, uint40 expiresAt);
    /// @notice The proposal already passed and was carried out.
    error ConsortiumProposalAlreadyExecuted(uint256 proposalId);
    /// @notice The operators or threshold changed since the proposal was made; propose again.
    error ConsortiumProposalStale(uint256 proposalId, uint32 epoch, uint32 currentEpoch);
    /// @notice This operator already approved the proposal.
    error ConsortiumAlreadyApproved(uint256 proposalId, address operator);
    /// @notice A recovery replaces another operator than its proposer.
    error ConsortiumInvalidRecovery(address lost, address proposer);
    /// @notice The proposal is not a recovery.
    error ConsortiumNotRecovery(uint256 proposalId);
    /// @notice The recovery has reached its quorum and waits for its time lock (or has not reached it yet).
    error ConsortiumRecoveryPending(uint256 proposalId, uint40 unlockAt);
    /// @notice The recovery was vetoed.
    error ConsortiumRecoveryVetoed(uint256 proposalId);
    /// @notice Only an operator of the lost operator's jurisdiction, or an active regulator admitted for that
    ///         jurisdiction, may veto a recovery.
    error ConsortiumNotVetoer(uint256 proposalId, address account);

    /// @notice Propose `kind` with its ABI-encoded `payload`; the proposer's approval counts.
    /// @dev Reverts with the error the execution would raise if the action is already invalid.
    function propose(ProposalKind kind, bytes calldata payload) external returns (uint256 proposalId);

    /// @notice Approve an open proposal of the current epoch; the approval that passes it carries it out (a
    ///         recovery's schedules it instead). A vetoed recovery takes no more approvals.
    function approve(uint256 proposalId) external;

    /// @notice Veto a recovery, before it is carried out: as an operator of the lost operator's jurisdiction (the
    ///         "lost" operator itself, if it is not lost after all) or as an active regulator member of the
    ///         registry admitted for that jurisdiction.
    function veto(uint256 proposalId) external;

    /// @notice Carry out a recovery whose time lock has passed, not vetoed, within one proposal lifetime after.
    function executeRecovery(uint256 proposalId) external;

    /// @notice The registry this consortium governs.
    function registry() external view returns (address);

    /// @notice The circulation contract whose regulator keys this consortium sets, fixed at deployment.
    function circulation() external view returns (address);

    /// @notice How long a recovery waits, in public, for a veto after reaching its quorum, in seconds.
    function RECOVERY_DELAY() external view returns (uint40);

    /// @notice The operators, in approval-bit order.
    function operators() external view returns (OperatorInfo[] memory);

    /// @notice Whether `account` is an operator.
    function isOperator(address account) external view returns (bool);

    /// @notice Approvals a proposal needs besides one from every jurisdiction that has an operator.
    function threshold() external view returns (uint8);

    /// @notice How long a proposal stays open, in seconds.
    function proposalLifetime() external view returns (uint40);

    /// @notice The current epoch: it moves on whenever the operators or the threshold change.
    function epoch() external view returns (uint32);

    /// @notice A proposal.
    function proposal(uint256 proposalId) external view returns (ProposalInfo memory);

    /// @notice Whether the account `operator` approved `proposalId` itself.
    function hasApproved(uint256 proposalId, address operator) external view returns (bool);

    /// @notice Number of proposals made so far (ids run from 1).
    function proposalCount() external view returns (uint256);

    /// @notice Ids of proposals still open (current epoch, not executed, not vetoed; not expired, or for a recovery
    ///         that reached its quorum, not past the time it may be carried out), newest first.
    /// @dev Walks back only over the proposals a recovery could still be open from ({RECOVERY_DELAY} and two
    ///      lifetimes), never over every id ever created.
    function openProposals() external view returns (uint256[] memory);
}
