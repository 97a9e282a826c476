namespace Tendril.Protocol.Sasl;

/// <summary>SASL failure conditions of RFC 6120 §6.5; <see cref="None"/> means success so far.</summary>
public enum SaslFailure
{
    None,
    Aborted,
    AccountDisabled,
    CredentialsExpired,
    EncryptionRequired,
    IncorrectEncoding,
    InvalidAuthzid,
    InvalidMechanism,
    MalformedRequest,
    MechanismTooWeak,
    NotAuthorized,
    TemporaryAuthFailure,
}

public static class SaslFailureNames
{
    /// <summary>The element name of the condition, e.g. <c>not-authorized</c>.</summary>
    public static string ToElementName(this SaslFailure failure) => failure switch
    {
        SaslFailure.Aborted => "aborted",
        SaslFailure.AccountDisabled => "account-disabled",
        SaslFailure.CredentialsExpired => "credentials-expired",
        SaslFailure.EncryptionRequired => "encryption-required",
        SaslFailure.IncorrectEncoding => "incorrect-encoding",
        SaslFailure.InvalidAuthzid => "invalid-authzid",
        SaslFailure.InvalidMechanism => "invalid-mechanism",
        SaslFailure.MalformedRequest => "malformed-request",
        SaslFailure.MechanismTooWeak => "mechanism-too-weak",
        SaslFailure.NotAuthorized => "not-authorized",
        SaslFailure.TemporaryAuthFailure => "temporary-auth-failure",
        _ => throw new ArgumentOutOfRangeException(nameof(failure)),
    };
}
