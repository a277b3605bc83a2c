//! The words the tables keep for enums (an upload's status, a file's processing state and
//! visibility), read and bound as the enums themselves: a row's word is decoded once, as the
//! row is read, and nothing above the database compares strings.

use crate::model::{Processing, Scan, UploadStatus, Visibility};
use sqlx::{
    any::AnyTypeInfo, encode::IsNull, error::BoxDynError, Any, Database, Decode, Encode, Type,
};

/// A stored word that names none of an enum's values. The tables' CHECKs keep such words
/// out; a newer version's (during a rolling upgrade) still reads as this, never as a guess.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} {word:?} is not a word this version knows")]
pub struct UnknownWord {
    pub what: &'static str,
    pub word: String,
}

macro_rules! stored_words {
    ($($type:ty => $what:literal),* $(,)?) => {$(
        impl Type<Any> for $type {
            fn type_info() -> AnyTypeInfo {
                <str as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <str as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $type {
            fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let word = <String as Decode<Any>>::decode(value)?;
                match Self::parse(&word) {
                    Some(known) => Ok(known),
                    None => Err(Box::new(UnknownWord { what: $what, word })),
                }
            }
        }

        impl Encode<'_, Any> for $type {
            fn encode_by_ref(
                &self,
                buf: &mut <Any as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Any>>::encode_by_ref(&self.as_str(), buf)
            }
        }
    )*};
}

stored_words! {
    UploadStatus => "upload status",
    Processing => "processing state",
    Visibility => "visibility",
    Scan => "scan state",
}
