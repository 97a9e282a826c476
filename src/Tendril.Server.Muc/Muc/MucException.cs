using Tendril.Protocol.Errors;

namespace Tendril.Server.Features.Muc;

/// <summary>A request the room refuses, with the XEP-0045 error it answers; the room's state is unchanged.</summary>
public sealed class MucException(StanzaError error) : Exception(error.Text ?? error.Condition.ToString())
{
    public StanzaError Error { get; } = error;

    public static MucException Of(StanzaErrorCondition condition, string? text = null) => new(StanzaError.Of(condition, text));

    public static MucException Of(StanzaErrorCondition condition, StanzaErrorType type, string? text = null) => new(new StanzaError(condition, type, text));
}
